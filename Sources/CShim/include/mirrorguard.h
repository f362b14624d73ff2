/*
 * mirrorguard.h — the public C API of MirrorGuard, a guarded-memory debugging allocator.
 *
 * The story in one paragraph. MirrorGuard keeps every object it hands out in one *arena*: a
 * memfd (a file that lives in RAM) mapped twice with MAP_SHARED. The *read-only view* maps it
 * PROT_READ, the *writable view* PROT_READ|PROT_WRITE, both reserved once and far larger than the
 * file, so the file grows with ftruncate and no pointer ever moves. The two views sit a fixed
 * distance apart, so turning a pointer into its alias is one addition: no table, no syscall.
 * mg_alloc returns the read-only view; code that must write asks for the writable alias inside a
 * *write section* (mg_unprotect ... mg_protect), which holds a process-wide lock that the same
 * thread may take again. Any write through a read-only pointer traps, and MirrorGuard's SIGSEGV
 * handler reports it as a `stray-write`, with the stack of the writer and of the allocation.
 *
 * Every object also lives in its own *slot*: whole pages followed by a guard page, made with
 * MADV_GUARD_INSTALL where the kernel offers it (no VMA per guard) or mprotect otherwise. The
 * object ends at the guard (or starts right after the previous slot's guard with
 * protect_below=1); the slack on the other side holds a canary checked at free. Freed slots are
 * guarded too and wait in a quarantine before their address space is reused, so overflows,
 * underflows and uses after free all trap and are reported with allocation and free stacks.
 *
 * Glossary
 *   arena         the memfd and its two views; `mg_ro`/`mg_rw` convert between them
 *   view          one of the two mappings: read-only (handed out) or writable (the alias)
 *   slot          the pages of one object plus its trailing guard page
 *   write section mg_unprotect .. mg_protect; recursive for one thread
 *   report        one error, written with one write(2); see CONTRACT §3 for the grammar
 *
 * Options come from the environment variable MIRRORGUARD_OPTIONS (`key=value` pairs separated by
 * ':' or ','); `MIRRORGUARD_OPTIONS=help=1` prints them all.
 *
 * Under LD_PRELOAD (or when a program links -lmirrorguard), malloc and friends are served from
 * the same arena; they return the writable view, and mg_ro(malloc(n)) is its read-only alias.
 */
#ifndef MIRRORGUARD_H
#define MIRRORGUARD_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__clang__) && !defined(_Nullable)
#define _Nullable
#define _Nonnull
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Objects ------------------------------------------------------------------------------ */

/* A new zeroed object of `size` bytes in its own guarded slot. Returns its READ-ONLY view, or
 * NULL with errno = ENOMEM when the size is too large or the arena cannot grow. */
void *_Nullable mg_alloc(size_t size);

/* Free an object given either of its views. A pointer that is not the start of a live object
 * is reported (double-free, invalid-free), never dereferenced. mg_free(NULL) does nothing. */
void mg_free(const void *_Nullable p);

/* Enter a write section and return the writable alias of p. The section holds a process-wide
 * lock that the same thread may take again; each mg_unprotect is paired with one mg_protect.
 * A pointer outside the arena gives NULL with errno = EINVAL and enters no section. */
void *_Nullable mg_unprotect(const void *_Nullable p);

/* Leave the write section entered by mg_unprotect and return the read-only alias of p.
 * A pointer outside the arena gives NULL with errno = EINVAL and leaves no section. */
const void *_Nullable mg_protect(const void *_Nullable p);

/* The writable / read-only alias of p, without a lock. Idempotent (mg_rw(mg_rw(p)) == mg_rw(p));
 * NULL if p is not in the arena. Pure arithmetic: p is never dereferenced. */
void *_Nullable mg_rw(const void *_Nullable p);
const void *_Nullable mg_ro(const void *_Nullable p);

/* In-place flips: `MG_RW(p);` makes the variable p point at its writable alias, `MG_RO(p);` at
 * its read-only one. */
#define MG_RW(p) ((p) = (__typeof__(p))mg_rw(p))
#define MG_RO(p) ((p) = (__typeof__(p))(uintptr_t)mg_ro(p))

/* The usable size of a live object (either view), or 0 if p is not the start of one. */
size_t mg_size(const void *_Nullable p);

/* ---- Snapshots ---------------------------------------------------------------------------- */

/* A copy-on-write snapshot of every arena object (malloc'd ones too under the preload). Taking
 * one write-protects the arena (userfaultfd); each page is copied once per snapshot that still
 * needs it, at its first write after the snapshot. Any number may be alive, nested and
 * interleaved. Where userfaultfd is missing, a snapshot copies the arena when taken
 * (mg_snapshot_method() says which). */
typedef struct mg_snapshot mg_snapshot_t;

/* Every arena object as it is now; NULL with errno on failure. */
mg_snapshot_t *_Nullable mg_snapshot_take(void);
/* p's object (either view, even if freed since) as it was when s was taken: a read-only pointer
 * at the same place in the object, valid until s is released. NULL if the object did not exist
 * then. */
const void *_Nullable mg_snapshot_view(const mg_snapshot_t *_Nullable s, const void *_Nullable p);
/* Frees the snapshot and its copies. */
void mg_snapshot_release(mg_snapshot_t *_Nullable s);

typedef enum { MG_CHANGE_WRITTEN, MG_CHANGE_ALLOCATED, MG_CHANGE_FREED } mg_change_kind_t;
typedef struct mg_change {
    const void *_Nonnull object;  /* the object's start (read-only view) */
    size_t offset, length;        /* the bytes concerned, within the object */
    mg_change_kind_t kind;        /* written since, allocated since, or freed since */
} mg_change_t;

/* What changed between s and `later` (NULL: now): objects allocated or freed since, and the byte
 * ranges written in objects live in both. Fills up to `max` entries of `out` (which may be NULL)
 * and returns how many there are in all. Costs time in proportion to the pages written. */
size_t mg_snapshot_changes(const mg_snapshot_t *_Nonnull s, const mg_snapshot_t *_Nullable later,
                           mg_change_t *_Nullable out, size_t max);
/* "userfaultfd" or "copy". */
const char *_Nonnull mg_snapshot_method(void);
/* Bytes of memory the snapshot's copies hold. */
size_t mg_snapshot_memory(const mg_snapshot_t *_Nullable s);

/* ---- Introspection ------------------------------------------------------------------------ */

/* What the arena runs on, after start-up: "memfd", "shm" or "tmpfile". */
const char *_Nonnull mg_backing(void);
/* How guard pages are made: "madvise" (MADV_GUARD_INSTALL) or "mprotect". */
const char *_Nonnull mg_guard_method(void);
/* Bytes of arena file in use (its size, holes included), and how many objects are live. */
size_t mg_arena_size(void);
size_t mg_live_objects(void);
/* How many reports this process has written. */
unsigned long mg_report_count(void);

/* ---- Options (one table, declared once in options.def) ------------------------------------ */

typedef struct mg_option_info {
    const char *_Nonnull name;
    const char *_Nonnull default_value;
    const char *_Nonnull values;     /* what it accepts, e.g. "guard|sample" or "1..4096" */
    const char *_Nonnull help;
} mg_option_info_t;

/* The number of options, and the i-th one (NULL past the end). */
int mg_option_count(void);
const mg_option_info_t *_Nullable mg_option_at(int i);

#ifdef __cplusplus
}
#endif
#endif /* MIRRORGUARD_H */
