/*
 * mg_internal.h — what the files of the C core share.
 *
 * Naming: `mg_` is public (mirrorguard.h), `_mg_` is shared between files of the core, and
 * everything else is `static`. The core is compiled with hidden visibility; MG_EXPORT marks the
 * few symbols a program may call or that must interpose libc's.
 *
 * Files and their concerns:
 *   options.c   the option table (options.def) and its parser          normal context
 *   platform.c  syscalls behind small wrappers that return 0 or errno    both contexts
 *   arena.c     the arena file and its two views; growth; guard pages   both contexts
 *   slots.c     one slot per object: page map, quarantine, canaries     normal context
 *   stacks.c    stack capture (libunwind) and a deduplicating store     both contexts
 *   symbols.c   naming code addresses from ELF symbol tables            async-signal-safe
 *   report.c    formatting and writing reports, text or JSON            async-signal-safe
 *   fault.c     the SIGSEGV/SIGBUS handler and handler chaining         async-signal-safe
 *   continue.c  on_error=continue: dedup, totals, letting accesses through async-signal-safe
 *   decode.c    x86-64 instructions: how they address memory            async-signal-safe
 *   emulate.c   completing MOV and string stores through the alias      async-signal-safe
 *   rebase.c    any other stray write: one step with a register moved   async-signal-safe
 *   snapshot.c  copy-on-write snapshots, the userfaultfd handler thread  normal context
 *   follow.c    keeping that handler on the writing thread's CPU         normal context
 *   api.c       start-up and the public mg_ calls                       normal context
 */
#ifndef MG_INTERNAL_H
#define MG_INTERNAL_H

#ifndef _GNU_SOURCE
#error "MirrorGuard's core needs _GNU_SOURCE (set it in cSettings or with -D_GNU_SOURCE)"
#endif

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "mirrorguard.h"

#define MG_EXPORT __attribute__((visibility("default")))
#define MG_TLS __thread __attribute__((tls_model("initial-exec")))
#define MG_LIKELY(x) __builtin_expect(!!(x), 1)
#define MG_UNLIKELY(x) __builtin_expect(!!(x), 0)

#pragma GCC visibility push(hidden)

/* ---- Options (options.c) ------------------------------------------------------------------ */

#define MG_OPT_INT(name, def, min, max, help) int name;
#define MG_OPT_ENUM(name, def, values, help) int name;
#define MG_OPT_STR(name, def, help) char name[256];
struct mg_options {
#include "options.def"
};
#undef MG_OPT_INT
#undef MG_OPT_ENUM
#undef MG_OPT_STR

/* Enum option values, in the order options.def lists them. */
enum { MG_MODE_GUARD, MG_MODE_SAMPLE };
enum { MG_ON_ERROR_ABORT, MG_ON_ERROR_CONTINUE };
enum { MG_FORMAT_TEXT, MG_FORMAT_JSON };
enum { MG_CONTINUE_AUTO, MG_CONTINUE_REBASE, MG_CONTINUE_STEP, MG_CONTINUE_OPEN };
enum { MG_SNAPSHOT_AUTO, MG_SNAPSHOT_UFFD, MG_SNAPSHOT_COPY };
enum { MG_GUARD_AUTO, MG_GUARD_MADVISE, MG_GUARD_MPROTECT };
enum { MG_BACKING_AUTO, MG_BACKING_MEMFD, MG_BACKING_SHM, MG_BACKING_TMPFILE };
enum { MG_FORK_AUTO, MG_FORK_LAZY, MG_FORK_COPY };

extern struct mg_options _mg_opt;
/* Parses `spec` (MIRRORGUARD_OPTIONS) over the defaults; bad keys and values are reported on
 * stderr, one line each, and keep their default. */
void _mg_options_parse(const char *spec);
void _mg_options_print_help(void);

/* ---- Platform (platform.c) ---------------------------------------------------------------- */

pid_t _mg_gettid(void);
void _mg_forget_tid(void);   /* in a fork child */
int _mg_program_threads(void); /* the process's threads less MirrorGuard's */
long _mg_proc_status(const char *field, long fallback); /* a number from /proc/self/status */
/* Blocks every signal in this thread, keeping the old mask; and puts it back. */
void _mg_signals_block(sigset_t *old);
void _mg_signals_restore(const sigset_t *old);
/* CLOCK_MONOTONIC in nanoseconds, and in milliseconds. */
long long _mg_now_ns(void);
long _mg_now_ms(void);
/* Starts a detached thread of MirrorGuard's own, with every signal blocked. 0 or errno. */
int _mg_thread_start(void *(*fn)(void *), void *arg);
/* Writes all of buf, retrying on EINTR and short writes; async-signal-safe. */
void _mg_write_all(int fd, const char *buf, size_t len);
/* Writes a NUL-terminated line to stderr, prefixed with "MirrorGuard: ". */
void _mg_warn(const char *msg);
void _mg_warn2(const char *a, const char *b);
/* The real sigaction, bypassing our own interposer. */
int _mg_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* Ends the process at once with status `code` (no atexit handlers). */
__attribute__((noreturn)) void _mg_die(int code);
/* An internal failure that cannot be reported as a normal result (not ENOMEM). */
__attribute__((noreturn)) void _mg_fatal(const char *what, int err);

/* ---- Arena (arena.c) ---------------------------------------------------------------------- */

enum mg_view { MG_VIEW_RO = 0, MG_VIEW_RW = 1 };

struct mg_arena {
    uintptr_t ro, rw;          /* base of each view; rw = ro + reserve */
    size_t reserve;            /* bytes reserved for each view */
    size_t page;               /* the page size */
    unsigned page_shift;
    int fd;                    /* the arena file */
    int backing;               /* MG_BACKING_* actually in use */
    int guard_madvise;         /* 1: MADV_GUARD_INSTALL, 0: mprotect */
    _Atomic size_t file_size;  /* bytes; grows only */
};
extern struct mg_arena _mg_arena;

int _mg_arena_init(void);                 /* 0 or errno */
int _mg_arena_grow(size_t bytes);         /* make the file at least `bytes` long; 0 or ENOMEM; callers serialize */
/* Guard pages [off, off+len) in both views (on=1) or make them accessible again (on=0). */
int _mg_arena_guard(uint64_t off, size_t len, int on);
/* Guards on many ranges at once (both views); 0 or errno. */
int _mg_arena_guard_many(const uint64_t *off, const size_t *len, size_t n);
/* Open one page of one view after a fault (continue mode). */
int _mg_arena_open_page(uint64_t off, enum mg_view view);
/* Give the physical pages of [off, off+len) back to the system; they read as zero after.
 * 0, or -1 if they could be neither punched nor zeroed. */
int _mg_arena_release(uint64_t off, size_t len);

static inline int _mg_in_view(uintptr_t a, uintptr_t base)
{
    return a - base < _mg_arena.reserve;
}
/* The arena offset of an address in either view, or -1 when it is not in the arena. */
static inline int64_t _mg_offset_of(uintptr_t a, enum mg_view *view)
{
    if (_mg_arena.ro == 0) return -1;
    if (_mg_in_view(a, _mg_arena.ro)) { if (view) *view = MG_VIEW_RO; return (int64_t)(a - _mg_arena.ro); }
    if (_mg_in_view(a, _mg_arena.rw)) { if (view) *view = MG_VIEW_RW; return (int64_t)(a - _mg_arena.rw); }
    return -1;
}
static inline uintptr_t _mg_addr(uint64_t off, enum mg_view view)
{
    return (view == MG_VIEW_RO ? _mg_arena.ro : _mg_arena.rw) + off;
}

/* ---- Stacks (stacks.c) -------------------------------------------------------------------- */

#define MG_MAX_FRAMES 64
/* Captures the current stack from the frame that returns to `ra` (the caller of the public entry
 * point) and stores it once; returns its id (0 = none). Never allocates. */
uint32_t _mg_stack_capture(uintptr_t ra);
/* The frames of a stored stack. */
const uintptr_t *_mg_stack_get(uint32_t id, int *n);
/* Captures the stack of a signal handler's thread from the faulting pc outwards into buf. */
int _mg_stack_from_signal(uintptr_t fault_pc, uintptr_t *buf, int max);
void _mg_stacks_init(void);

/* ---- Slots (slots.c) ---------------------------------------------------------------------- */

enum mg_slot_state { MG_SLOT_UNUSED, MG_SLOT_LIVE, MG_SLOT_QUARANTINED, MG_SLOT_FREE };
enum mg_family { MG_FAMILY_MG, MG_FAMILY_MALLOC, MG_FAMILY_NEW, MG_FAMILY_NEW_ARRAY, MG_FAMILY_ANY };

struct mg_slot {
    uint64_t user;         /* arena offset of the object */
    uint64_t size;         /* bytes requested */
    uint32_t first_page;   /* data pages [first_page, first_page + npages); the guard follows */
    uint32_t npages;
    uint32_t alloc_stack, free_stack;
    int32_t alloc_tid, free_tid;
    uint32_t next;         /* quarantine or free-list link (slot id) */
    uint32_t gen;          /* allocations made in this slot: tells a reused slot from its old object */
    uint8_t state;         /* enum mg_slot_state */
    uint8_t family;        /* enum mg_family */
    uint8_t view;          /* the view handed out: enum mg_view */
    uint8_t opened;        /* continue mode opened one of its pages (or they could not be zeroed): never reuse it */
    uint8_t punching;      /* freed, in a batch being punched (slots.c): in no list meanwhile */
};

int _mg_slots_init(void);
/* A new object; *off receives its arena offset. 0, or ENOMEM. */
int _mg_slot_alloc(size_t size, size_t align, enum mg_family family, enum mg_view view,
                   uint32_t stack, uint64_t *off);

enum mg_free_status { MG_FREE_OK, MG_FREE_DOUBLE, MG_FREE_INVALID, MG_FREE_MISMATCH };
/* Frees the object that starts at `off`, deallocated by `family`. On an error, *slot_id names
 * the slot concerned (0 if none) and nothing is changed. */
enum mg_free_status _mg_slot_free(uint64_t off, enum mg_family family, uint32_t stack, uint32_t *slot_id);
/* The second half of a free: guards the slot, gives its pages back and queues it in the
 * quarantine (a lazily forked child defers it until it owns its heap). */
void _mg_slot_retire(uint32_t id);
/* The slot that owns the page of `off` (data or trailing guard), or NULL. Lock-free: for the
 * signal handler and reports. */
const struct mg_slot *_mg_slot_for(uint64_t off, uint32_t *id);
const struct mg_slot *_mg_slot_get(uint32_t id);
void _mg_slot_mark_opened(uint32_t id);
size_t _mg_slots_live(void);
/* One past the highest slot id in use. */
uint32_t _mg_slots_count(void);
/* Allocations served by slots since start-up, and the most live at once. */
void _mg_slots_stats(size_t *allocations, size_t *peak_live);

/* ---- Reports (report.c) ------------------------------------------------------------------- */

#define MG_KINDS(X) \
    X(HEAP_BUFFER_OVERFLOW, "heap-buffer-overflow") \
    X(HEAP_BUFFER_UNDERFLOW, "heap-buffer-underflow") \
    X(HEAP_USE_AFTER_FREE, "heap-use-after-free") \
    X(DOUBLE_FREE, "double-free") \
    X(INVALID_FREE, "invalid-free") \
    X(ALLOC_DEALLOC_MISMATCH, "alloc-dealloc-mismatch") \
    X(STRAY_WRITE, "stray-write") \
    X(MEMORY_LEAK, "memory-leak") \
    X(ARENA_BUS_ERROR, "arena-bus-error")
#define MG_KIND_ENUM(e, s) MG_KIND_##e,
enum mg_kind { MG_KINDS(MG_KIND_ENUM) MG_KIND_COUNT };
#undef MG_KIND_ENUM
const char *_mg_kind_name(enum mg_kind k);

enum mg_where { MG_WHERE_NONE, MG_WHERE_INSIDE, MG_WHERE_AFTER, MG_WHERE_BEFORE };

struct mg_report {
    enum mg_kind kind;
    uintptr_t addr, pc;
    const char *access;          /* "READ", "WRITE" or "FREE" */
    pid_t tid;
    const uintptr_t *frames;     /* the error's own stack; frames[0] is exact, the rest return addresses */
    int nframes;
    enum mg_where where;         /* addr relative to the region */
    uintptr_t region_begin;      /* in the same view as addr */
    size_t region_size;
    const struct mg_slot *slot;  /* allocation and free stacks, or NULL */
    const char *note;            /* an extra line, or NULL */
    int counted;                 /* continue mode: already counted by the caller */
};

/* Formats and writes one report with one write(2); async-signal-safe; serialized between
 * threads. Returns after writing: the caller decides whether the process ends. */
void _mg_report(const struct mg_report *r);
/* Fills r's region (and slot) for r->addr near or inside slot s, addresses in `view`. */
void _mg_report_region(struct mg_report *r, const struct mg_slot *s, enum mg_view view);
/* One allocation site's share of the changes since a snapshot (changes_at_exit). */
struct mg_site {
    uint32_t stack;
    size_t written, written_bytes, allocated, freed;
};
/* Writes a titled list of allocation sites with their counts, one write(2). */
void _mg_report_sites(const char *title, const struct mg_site *sites, size_t n);
/* Ends the process after a report in abort mode. */
__attribute__((noreturn)) void _mg_report_abort(void);
extern _Atomic unsigned long _mg_reports;

/* ---- Snapshots (snapshot.c) -------------------------------------------------------------- */

/* Nonzero while any snapshot is alive. */
extern _Atomic int _mg_snapshots_active;
/* Copies [off, off+len) into the snapshots that lack it, before free punches it out. */
void _mg_snapshot_preserve(uint64_t off, size_t len);
/* Lifts write-protection from pages about to be guarded (their content is preserved already). */
void _mg_snapshot_unprotect(uint64_t off, size_t len);
/* changes_at_exit=1: the start-up snapshot (called from the preload's constructor). */
void _mg_snapshot_at_start(void);
/* In a fork child: no snapshots, no userfaultfd. */
void _mg_snapshots_forget(void);

/* ---- Instruction decoding (decode.c) ----------------------------------------------------- */

enum { MG_ENC_LEGACY, MG_ENC_VEX, MG_ENC_EVEX };
/* How an x86-64 instruction addresses memory. Register numbers are the hardware's (0 = RAX …
 * 15 = R15), extensions included; -1 = none. */
struct mg_insn {
    const uint8_t *start, *end;   /* end: past ModRM, SIB and displacement (immediates not included) */
    uint8_t encoding;             /* MG_ENC_* */
    uint8_t map;                  /* 0: one-byte opcodes, 1: 0F, 2: 0F38, 3: 0F3A (VEX/EVEX: their map) */
    uint8_t op;
    uint8_t rex, w, opsize16, addr32, lock;
    uint8_t rep;                  /* 0, 0xF2 or 0xF3 */
    uint8_t segment;              /* 0, or 0x64 (FS) / 0x65 (GS) */
    uint8_t has_modrm, mod, reg, rm;
    int8_t base, index;
    uint8_t scale;                /* the index is shifted left by this */
    uint8_t rip_relative, vsib;   /* vsib: the index is a vector register (gather/scatter) */
    uint8_t disp8_scaled;         /* EVEX disp8: the real displacement is disp times the operand size */
    int32_t disp;
};
/* 0, or -1 if the bytes at ip are not an instruction it can take apart. */
int _mg_decode(const uint8_t *ip, struct mg_insn *in);
/* Register number 0..15 → its index in a signal context's gregs. */
extern const int _mg_greg_of[16];

/* ---- The snapshot handler's place (follow.c) ------------------------------------------------ */

/* A thread's first call into MirrorGuard records where its CPU number can be read. */
void _mg_follow_register(pid_t tid);
/* At late start-up: exiting threads remove their entries from here on. */
void _mg_follow_init(void);
/* Before the handler thread starts, with the userfaultfd it serves: starts the watchdog. */
void _mg_follow_start(int uffd);
/* First thing in the handler thread. */
void _mg_follow_enter(void);
/* Before resolving a fault of thread `writer`: moves the handler towards the writer's CPU. */
void _mg_follow_fault(pid_t writer);
/* After each fault is resolved. */
void _mg_follow_handled(void);
/* A lazy fork is pending: the handler at normal priority (follow.c). */
void _mg_follow_normal(void);

/* ---- Continue mode (continue.c) ---------------------------------------------------------- */

/* Starts continue mode (on_error=continue): the exit summary and, for continue_method=step, the
 * SIGTRAP handler. */
void _mg_continue_start(void);
/* Counts an error; 1 if it is the first of its (pc, kind), which alone is reported. */
int _mg_continue_first(uintptr_t pc, enum mg_kind kind);
/* Lets the faulting access complete. 0, or an errno value if it cannot. */
int _mg_continue_access(const struct mg_report *r, uint64_t off, enum mg_view view, uint32_t slot_id, void *uc);
/* Completes a plain MOV store to the read-only view through the writable alias and steps RIP
 * past it (emulate.c). 0, or -1 if the instruction is not one it decodes. */
int _mg_emulate_store(void *uc, uintptr_t fault_addr);
/* Completes as much of a (rep) stos/movs as lies on live pages of the read-only view through
 * the writable alias, advancing RDI, RSI and RCX (emulate.c). 0, or -1 if it cannot. */
int _mg_emulate_string(void *uc, uintptr_t fault_addr);
/* Moves one address register of the faulting instruction to the writable view and sets the trap
 * flag, so the instruction itself writes through the alias; 0, or -1 if no register can be moved
 * safely (rebase.c). */
int _mg_rebase_step(void *uc, uintptr_t fault_addr);
/* In the SIGTRAP handler: moves the register back after that one instruction. 1 if it did.
 * single_step: the trap is a trace trap (TRAP_TRACE). */
int _mg_rebase_finish(void *uc, int single_step);
/* In the fault handler: is the faulting instruction one running rebased on this thread? */
int _mg_rebase_active(const void *uc);
/* One instruction's single step, in a signal context (continue.c owns SIGTRAP): sets the trap
 * flag and lets SIGTRAP through if the thread blocks it; the result goes to _mg_step_disarm,
 * which undoes both when the trap comes. */
int _mg_step_arm(void *uc);
void _mg_step_disarm(void *uc, int state);
/* Whether SIGTRAP is ours to use (continue.c), for rebase.c. */
int _mg_continue_can_trap(void);
/* For the sigaction interposer: keeps a program's SIGTRAP handler behind ours, if ours is in. */
int _mg_continue_chain_trap(const struct sigaction *act, struct sigaction *old);

/* ---- Faults (fault.c) --------------------------------------------------------------------- */

/* Installs the SIGSEGV/SIGBUS handler (once) on an alternate stack; earlier handlers are chained. */
void _mg_fault_install(void);
/* Passes a signal on to the program's handler `next` as the kernel would have (its mask, its
 * SA_RESETHAND), or to the default action. */
void _mg_chain_to(struct sigaction *next, int sig, siginfo_t *si, void *uc);

/* ---- Routing between the arena and the system allocator (MirrorGuardPreload/malloc.c) ----- */

enum mg_route { MG_TO_ARENA, MG_TO_BOOT, MG_TO_SYSTEM, MG_TO_FORK };
/* Where a new allocation goes: the arena (guard mode, or sampled), the bootstrap arena (while
 * starting), or glibc (not sampled, or no arena). */
enum mg_route _mg_route_alloc(void);
/* Who owns p, by address. */
enum mg_route _mg_route_free(const void *p);
void *_mg_system_alloc(size_t size, size_t align, int zero);
void _mg_system_free(void *p);
/* The static arena that serves allocations made while MirrorGuard starts. */
void *_mg_boot_alloc(size_t size, size_t align);
/* Finds glibc's own calls that libc exports under no __libc_ name (from the constructor). */
void _mg_resolve_system(void);

/* ---- Leaks (leaks.c) --------------------------------------------------------------------- */

/* Registers the exit-time leak check when detect_leaks=1. */
void _mg_leaks_install(void);
/* A mapping of MirrorGuard's own that the leak scan must not treat as a root. */
void _mg_leaks_exclude(const void *p, size_t len);

/* ---- fork (fork.c) ----------------------------------------------------------------------- */

/* Registers the atfork handlers that give a forked child a private heap. */
void _mg_fork_install(void);
/* In a fork child, locks that another thread held at the fork are released. */
void _mg_api_after_fork_child(void);
void _mg_report_after_fork_child(void);
void _mg_continue_after_fork_child(void);
/* The pieces it uses: a copy of the arena file (or -1), mapping a file over both views, the
 * metadata locks, re-arming the guards of freshly mapped views, and where the next new slot
 * will start (slots lock held). */
int _mg_arena_clone_file(void);
int _mg_arena_copy_range(int fd, uint64_t from, uint64_t to);
int _mg_slots_copy_live(int fd);
int _mg_arena_adopt(int fd, int fresh);
int _mg_arena_keep_from_fork(int on);
void _mg_slots_lock(void);
void _mg_slots_unlock(void);
int _mg_slots_reguard(void);
/* In a child that got a copy of the heap: slots another thread was punching at the fork (their
 * pages are holes in the copy) join the quarantine. Called with the slots lock held. */
void _mg_slots_requeue_after_fork(void);
uint64_t _mg_slots_bump_offset(void);
void _mg_stacks_lock(void);
void _mg_stacks_unlock(void);

/* A lazy fork (fork=lazy). In the parent: nonzero while a child may still read the shared file
 * as it was at the fork; allocation calls wait for that to settle. */
extern _Atomic int _mg_fork_pending;
void _mg_fork_settle(void);
/* Waits until no allocation or free call is running (api.c); -1 if this thread is inside one. */
int _mg_api_wait_ops(void);
/* Whether the next fork should be lazy (the option, and the heap's size for auto). */
int _mg_fork_wants_lazy(void);
/* In the child: nonzero until it has the file to itself; its allocations come from a private
 * region meanwhile, and whatever needs the arena takes the file first. */
extern int _mg_fork_child_pending;
void _mg_fork_own_heap(void);
/* Keeps a freed slot's retirement for when the child owns its heap; 0 if it cannot (then the
 * heap is owned now and the caller retires it). */
int _mg_fork_defer_free(uint32_t id);
void *_mg_fork_alloc(size_t size, size_t align);   /* NULL: use the arena (the heap is owned now) */
int _mg_fork_owns(const void *p);
/* For the snapshot handler thread: what to poll, what it saw, fork events, and whether a
 * parent's write fault must wait (held, not resolved). */
struct pollfd;
int _mg_fork_watch(struct pollfd *fds, int *timeout);
void _mg_fork_serve(const struct pollfd *fds, int n);
void _mg_fork_event(int child_uffd);
int _mg_fork_hold(pid_t writer);
/* Snapshots and forks exclude each other. */
void _mg_fork_lock(void);
void _mg_fork_unlock(void);
void _mg_fork_stats(unsigned long *finished, unsigned long *moved);
/* A fault in a copy-mode fork child before it mapped its heap: maps it; 1 = retry the access. */
int _mg_fork_copy_fault(uintptr_t addr);

/* The arena's userfaultfd (snapshot.c), shared with fork.c: started once with its handler
 * thread; write-protect on/off, registering the writable view again after it was mapped
 * afresh, and waking writers. 0 or an errno value. */
int _mg_uffd_start(void);
int _mg_uffd_running(void);
int _mg_uffd_protect(uint64_t off, size_t len, int on);
/* The same through another descriptor (a lazily forked child's). 0 or an errno value. */
int _mg_uffd_protect_fd(int fd, uint64_t off, size_t len, int on);
int _mg_uffd_register(void);
int _mg_uffd_wake(uint64_t off, size_t len);

/* ---- Start-up and the shared allocation path (api.c) -------------------------------------- */

/* 1 once the arena is usable; starts it on first use. 0 if start-up failed (errno set). */
int _mg_ready(void);
/* Registers what needs libc's locks (fork handlers, exit checks, SIGTRAP), once, outside malloc. */
void _mg_late_start(void);
enum { INIT_NONE, INIT_RUNNING, INIT_DONE, INIT_FAILED };
extern _Atomic int _mg_init_state;
/* The hot paths' check: started and usable, without starting. */
static inline int _mg_started(void)
{
    return atomic_load_explicit(&_mg_init_state, memory_order_acquire) == INIT_DONE;
}
/* Is p in either view? One comparison: the views are adjacent. */
static inline int _mg_in_arena(const void *p)
{
    return (uintptr_t)p - _mg_arena.ro < 2 * _mg_arena.reserve;
}
/* Allocates for any entry point: `align` is the least alignment the caller needs (the
 * `alignment` option may raise it), `ra` is the entry point's return address (the caller's frame
 * starts the allocation stack), `zero` skips the fill byte. NULL with errno on failure. */
void *_mg_allocate(size_t size, size_t align, enum mg_family family, enum mg_view view, int zero, uintptr_t ra);
/* Frees for any entry point; reports bad frees (double, invalid, mismatched). */
void _mg_deallocate(const void *p, enum mg_family family, uintptr_t ra);
/* The live object that starts at p, or NULL. */
const struct mg_slot *_mg_live_object(const void *p);

#pragma GCC visibility pop
#endif /* MG_INTERNAL_H */
