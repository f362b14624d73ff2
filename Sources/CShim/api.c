/*
 * api.c — start-up and the public mg_ calls.
 *
 * Start-up happens once, on first use: from the first mg_ call, the first malloc under the
 * preload, or the preload's constructor, whichever comes first. It reads MIRRORGUARD_OPTIONS,
 * creates the arena, primes the unwinder and the symbol tables, and installs the fault handler;
 * what needs libc's locks waits for _mg_late_start.
 * It allocates nothing with malloc, because it may run inside the process's first malloc; a
 * thread that re-enters it (libunwind or libc calling malloc while we start) is told "not
 * ready" and served elsewhere by the caller.
 *
 * Conversions between views are range checks and one addition. Write sections hold one
 * process-wide mutex, taken once per thread however deeply sections nest.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_internal.h"
#include "symbols.h"

#pragma GCC visibility push(hidden)

_Atomic int _mg_init_state;
#define init_state _mg_init_state
static _Atomic pid_t init_thread;
static int init_error;

static const char *const backing_names[] = {"auto", "memfd", "shm", "tmpfile"};

static void banner(void)
{
    char line[256];
    size_t n = 0;
#define ADD(s) do { size_t l_ = strlen(s); memcpy(line + n, s, l_); n += l_; } while (0)
    ADD("MirrorGuard: arena on ");
    ADD(backing_names[_mg_arena.backing]);
    ADD(", guards by ");
    ADD(_mg_arena.guard_madvise ? "madvise" : "mprotect");
    ADD(_mg_opt.protect_below ? ", guard before objects" : ", guard after objects");
    ADD(_mg_opt.mode == MG_MODE_SAMPLE ? ", sampling" : ", every allocation guarded");
    ADD(_mg_opt.on_error == MG_ON_ERROR_CONTINUE ? ", on_error=continue\n" : ", on_error=abort\n");
#undef ADD
    _mg_write_all(2, line, n);
}

/* verbosity=2: what this run did, at exit. */
static void statistics(void)
{
    size_t allocs, peak;
    unsigned long finished, moved;
    _mg_slots_stats(&allocs, &peak);
    _mg_fork_stats(&finished, &moved);
    char line[320];
    int n = snprintf(line, sizeof line,
                     "MirrorGuard: %zu guarded allocations, peak %zu live, %zu live at exit, arena file %zu MiB, %lu reports; "
                     "lazy forks: %lu children exec'd or exited first, %lu needed a copy\n",
                     allocs, peak, _mg_slots_live(), mg_arena_size() >> 20, mg_report_count(), finished, moved);
    if (n > 0) _mg_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void start(void)
{
    _mg_options_parse(getenv("MIRRORGUARD_OPTIONS"));
    if (_mg_opt.help) _mg_options_print_help();
    _mg_stacks_init();
    int err = _mg_arena_init();
    if (!err) err = _mg_slots_init();
    _mg_symbols_prime();
    _mg_fault_install();
    if (err) {
        init_error = err;
        _mg_warn("cannot create the arena; allocations will fail with ENOMEM");
        atomic_store(&init_state, INIT_FAILED);
        return;
    }
    if (_mg_opt.verbosity >= 1) banner();
    atomic_store(&init_state, INIT_DONE);
}

int _mg_ready(void)
{
    int s = atomic_load_explicit(&init_state, memory_order_acquire);
    if (MG_LIKELY(s == INIT_DONE)) return 1;
    if (s == INIT_NONE) {
        int expected = INIT_NONE;
        if (atomic_compare_exchange_strong(&init_state, &expected, INIT_RUNNING)) {
            atomic_store(&init_thread, _mg_gettid());
            start();
            return atomic_load(&init_state) == INIT_DONE;
        }
    }
    /* Someone is starting: the same thread re-entering is not ready; others wait. */
    if (atomic_load(&init_thread) == _mg_gettid() && atomic_load(&init_state) == INIT_RUNNING) {
        errno = EAGAIN;
        return 0;
    }
    while (atomic_load(&init_state) == INIT_RUNNING) { }
    if (atomic_load(&init_state) == INIT_DONE) return 1;
    errno = init_error ? ENOMEM : EAGAIN;
    return 0;
}

/* The second stage of start-up: registrations that take libc's own locks (atexit,
 * pthread_atfork) and the SIGTRAP handler. Never from inside the process's first malloc, which
 * glibc may be making while it holds those very locks (atexit and pthread_atfork allocate under
 * them); from the preload's constructor, or the first mg_ call of a program that links the core. */
void _mg_late_start(void)
{
    static _Atomic int done;
    if (MG_LIKELY(atomic_load_explicit(&done, memory_order_acquire)) || !_mg_ready()) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&done, &expected, 1)) return;
    _mg_fork_install();
    _mg_follow_init();
    _mg_leaks_install();
    _mg_continue_start();
    if (_mg_opt.verbosity >= 2) atexit(statistics);
}

/* Reports a free of p that is not the start of a live object, or of the wrong family. */
static void report_bad_free(enum mg_free_status status, uintptr_t p, uint32_t slot_id, uint32_t stack,
                            enum mg_family by)
{
    static const char *const family_names[] = {"mg_alloc", "malloc", "operator new", "operator new []"};
    static const char *const free_names[] = {"mg_free", "free", "operator delete", "operator delete []"};
    char note[160];
    int n;
    const uintptr_t *frames = _mg_stack_get(stack, &n);
    const struct mg_slot *s = _mg_slot_get(slot_id);
    enum mg_view view = MG_VIEW_RW;
    struct mg_report r = {
        .kind = status == MG_FREE_DOUBLE ? MG_KIND_DOUBLE_FREE
              : status == MG_FREE_MISMATCH ? MG_KIND_ALLOC_DEALLOC_MISMATCH : MG_KIND_INVALID_FREE,
        .addr = p,
        .pc = n ? frames[0] : 0,
        .access = "FREE",
        .tid = _mg_gettid(),
        .frames = frames,
        .nframes = n,
        .slot = s,
    };
    if (s && _mg_offset_of(p, &view) >= 0) {
        _mg_report_region(&r, s, view);
    } else {
        r.note = "the pointer is not in MirrorGuard's arena (a stack, global or foreign heap address)";
    }
    if (status == MG_FREE_MISMATCH && s) {
        size_t len = 0;
        const char *parts[] = {"allocated by ", family_names[s->family], ", deallocated by ", free_names[by]};
        for (size_t i = 0; i < 4; i++) {
            size_t l = strlen(parts[i]);
            memcpy(note + len, parts[i], l);
            len += l;
        }
        note[len] = 0;
        r.note = note;
    }
    _mg_report(&r);
    if (_mg_opt.on_error == MG_ON_ERROR_ABORT) _mg_report_abort();
}

/* Allocation and free calls are counted while they run. A lazy fork (fork.c) closes the gate
 * (pending), waits for the calls in flight to finish, and only then protects the arena; a call
 * that finds the gate closed waits until the child no longer shares the file. Sequentially
 * consistent: a call sees the gate closed, or the fork sees the call. (A child's frees are
 * deferred in slots.c; its allocations reach the arena only once it owns the file.) */
static _Atomic long ops_in_flight;
static MG_TLS long my_ops;

static inline void op_begin(void)
{
    for (;;) {
        atomic_fetch_add(&ops_in_flight, 1);
        if (MG_LIKELY(!atomic_load(&_mg_fork_pending))) break;
        atomic_fetch_sub(&ops_in_flight, 1);
        _mg_fork_settle();
    }
    my_ops++;
}

static inline void op_end(void)
{
    my_ops--;
    atomic_fetch_sub(&ops_in_flight, 1);
}

int _mg_api_wait_ops(void)
{
    if (my_ops) return -1; /* fork() from a signal handler inside an allocation call */
    while (atomic_load(&ops_in_flight) > 0) sched_yield();
    return 0;
}

void *_mg_allocate(size_t size, size_t align, enum mg_family family, enum mg_view view, int zero, uintptr_t ra)
{
    if (!_mg_ready()) { errno = ENOMEM; return NULL; }
    if (MG_UNLIKELY(_mg_fork_child_pending)) _mg_fork_own_heap();
    /* The option is read only now: on the first call, start-up has just parsed it. */
    if (align < (size_t)_mg_opt.alignment) align = (size_t)_mg_opt.alignment;
    uint64_t off;
    op_begin();
    int err = _mg_slot_alloc(size, align, family, view, _mg_stack_capture(ra), &off);
    if (!err && !zero && _mg_opt.fill >= 0) memset((void *)_mg_addr(off, MG_VIEW_RW), _mg_opt.fill, size);
    op_end();
    if (err) { errno = err; return NULL; }
    return (void *)_mg_addr(off, view);
}

void _mg_deallocate(const void *p, enum mg_family family, uintptr_t ra)
{
    if (!p) return;
    int saved = errno; /* free() leaves errno alone (glibc 2.33+ promises it) */
    uint32_t stack = _mg_stack_capture(ra);
    int64_t off = _mg_offset_of((uintptr_t)p, NULL);
    uint32_t slot_id = 0;
    op_begin();
    enum mg_free_status st = off < 0 ? MG_FREE_INVALID : _mg_slot_free((uint64_t)off, family, stack, &slot_id);
    op_end();
    if (st != MG_FREE_OK) {
        report_bad_free(st, (uintptr_t)p, slot_id, stack, family);
        /* Continue mode: a mismatched free still frees, as the program meant to. */
        if (st == MG_FREE_MISMATCH) {
            op_begin();
            (void)_mg_slot_free((uint64_t)off, MG_FAMILY_ANY, stack, &slot_id);
            op_end();
        }
    }
    errno = saved;
}

const struct mg_slot *_mg_live_object(const void *p)
{
    int64_t off = _mg_offset_of((uintptr_t)p, NULL);
    if (off < 0) return NULL;
    const struct mg_slot *s = _mg_slot_for((uint64_t)off, NULL);
    return (s && s->state == MG_SLOT_LIVE && s->user == (uint64_t)off) ? s : NULL;
}

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static MG_TLS unsigned write_depth;

/* A fork child has one thread: a write section another thread held at the fork is gone. */
void _mg_api_after_fork_child(void)
{
    atomic_store(&ops_in_flight, my_ops); /* the other threads' calls are not in the child */
    pthread_mutex_init(&write_lock, NULL);
    if (write_depth > 0) pthread_mutex_lock(&write_lock);
}

#pragma GCC visibility pop

MG_EXPORT __attribute__((noinline)) void *mg_alloc(size_t size)
{
    _mg_late_start();
    return _mg_allocate(size, 0, MG_FAMILY_MG, MG_VIEW_RO, 1,
                        (uintptr_t)__builtin_return_address(0));
}

MG_EXPORT __attribute__((noinline)) void mg_free(const void *p)
{
    if (!p || !_mg_ready()) return;
    _mg_deallocate(p, MG_FAMILY_MG, (uintptr_t)__builtin_return_address(0));
}

MG_EXPORT void *mg_rw(const void *p)
{
    enum mg_view v;
    int64_t off = _mg_offset_of((uintptr_t)p, &v);
    return off < 0 ? NULL : (void *)_mg_addr((uint64_t)off, MG_VIEW_RW);
}

MG_EXPORT const void *mg_ro(const void *p)
{
    enum mg_view v;
    int64_t off = _mg_offset_of((uintptr_t)p, &v);
    return off < 0 ? NULL : (const void *)_mg_addr((uint64_t)off, MG_VIEW_RO);
}

MG_EXPORT void *mg_unprotect(const void *p)
{
    void *rw = mg_rw(p);
    if (MG_UNLIKELY(!rw)) { errno = EINVAL; return NULL; }
    if (write_depth++ == 0) pthread_mutex_lock(&write_lock);
    return rw;
}

MG_EXPORT const void *mg_protect(const void *p)
{
    const void *ro = mg_ro(p);
    if (MG_UNLIKELY(!ro)) { errno = EINVAL; return NULL; }
    if (MG_UNLIKELY(write_depth == 0)) {
        _mg_warn("mg_protect without a matching mg_unprotect; ignored");
        return ro;
    }
    if (--write_depth == 0) pthread_mutex_unlock(&write_lock);
    return ro;
}

MG_EXPORT size_t mg_size(const void *p)
{
    const struct mg_slot *s = _mg_live_object(p);
    return s ? s->size : 0;
}

MG_EXPORT const char *mg_backing(void)
{
    return _mg_ready() ? backing_names[_mg_arena.backing] : "none";
}

MG_EXPORT const char *mg_guard_method(void)
{
    return _mg_ready() ? (_mg_arena.guard_madvise ? "madvise" : "mprotect") : "none";
}

MG_EXPORT size_t mg_arena_size(void)
{
    return atomic_load(&_mg_arena.file_size);
}

MG_EXPORT size_t mg_live_objects(void)
{
    return _mg_slots_live();
}
