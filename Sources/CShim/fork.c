/*
 * fork.c — a private heap for a forked child, without copying it when the child only execs.
 *
 * The arena is a MAP_SHARED file, so after a plain fork() parent and child would share every
 * object: a child's writes would reach the parent and the parent's the child. Two ways out:
 *
 * Lazy (fork=lazy; fork=auto picks it in a process with threads, or from 1,000 live objects
 * up, where userfaultfd allows it, unless glibc's fork has written the heap in a process with no
 * threads of its own: below). Most children exec or exit soon and never write to the
 * heap they inherited, so nothing is copied at the fork. Instead:
 *   - The prepare handler write-protects the whole arena with userfaultfd. The descriptor asks
 *     for fork events (UFFD_FEATURE_EVENT_FORK), so the child inherits the protection, and its
 *     faults come to the parent's handler thread through a descriptor of the child's own.
 *   - Neither process can change the shared file now: a write, from user code or from a syscall
 *     such as read(2), waits in the kernel; it never fails. The child's new allocations come
 *     from a private bump region (unguarded; never freed) instead of the arena, and its frees of
 *     inherited objects are checked and recorded but their pages stay as they are (no use-after-
 *     free trap for those until the child owns its heap).
 *   - A gate pipe whose write end only the child holds, close-on-exec, hangs up when the child
 *     has exec'd or exited. Then the file is the parent's alone again: protection comes off,
 *     and nothing was copied.
 *   - If instead the child writes to the heap, or asks for it (mg_alloc, a snapshot, a fork of
 *     its own, too many frees), or the parent has been kept waiting long enough (below), the
 *     parent moves: it copies the file (holes skipped) into a new one, maps that over both of
 *     its views, re-arms its guards and wakes its waiting writers. The old file is then the
 *     child's alone, and the parent releases it by unregistering the child's range.
 *   - Long enough is fork_wait_ms, or what a move would cost if that is more (the last move's
 *     time per live object, times the live objects now; 3 µs each before any move): waiting for
 *     a child's exec then never costs more than copying at once would have, and a big heap's
 *     child, whose exec takes longer, is not copied for nothing.
 *   - The parent's own allocation calls while a child is pending wait for that settlement first
 *     (a few hundred microseconds when the child execs at once).
 *   - In a process with threads glibc's fork writes the heap itself after the atfork handlers,
 *     from the forking thread, before the fork proper (it locks its NSS state, malloc'd once a
 *     program has looked a user or host up). That write cannot wait for a decision made after
 *     the fork: it goes through. A fork still not made WINDOW_MS after the protection (its
 *     thread waits on a lock that a held writer owns) has the protection lifted. Either way the
 *     fork event protects the arena again, child first, and that child asks for its heap at
 *     once through the gate, since it may have shared those pages. glibc's child side writes
 *     the heap too (FILE locks, NSS state) before any handler runs: so such forks end in a
 *     move anyway, and fork=auto copies at once from then on where no thread of the program's
 *     could tear the copy.
 *
 * Copy (fork=copy, or with snapshots alive, or without userfaultfd, or on a stack that is a heap
 * object). The prepare handler copies
 * the file's data into a new file while the metadata lock is held; the child maps the copy over
 * both views and re-arms its guard pages; the parent drops it. About 5 ms per 10 MiB of live
 * data, paid by every fork(). In a process with threads glibc's fork child resets every FILE's
 * lock before any atfork handler runs, and fopen'd FILEs live in the heap: so there both views
 * are marked MADV_DONTFORK, the child starts with no heap mapped at all, and maps its copy at
 * its first touch of the heap (a fault, _mg_fork_copy_fault) or in its atfork handler, whichever
 * comes first. The forking thread's alternate signal stack moves out of the heap meanwhile. What
 * runs in the child before MirrorGuard's handler (atfork handlers registered earlier) finds no
 * heap: a syscall given heap memory fails with EFAULT, and a new mapping may take the heap's
 * place (the child then exits with a message).
 *
 * Either way the copy is made while other threads of the parent may still run: the child's heap
 * can be microseconds apart from its globals where another thread was writing at that moment.
 * posix_spawn, vfork and system() run no atfork handlers and need none of this.
 *
 * Threads: prepare/parent/child run in the forking thread; the settling (finish, move) runs in
 * the snapshot handler thread, which polls the descriptors this file gives it (_mg_fork_watch)
 * and never allocates.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mg_internal.h"
#include "symbols.h"

/* glibc's list of FILEs. Its fork takes this lock after the atfork handlers have run, and a
 * thread flushing every stream holds it while it writes FILE objects (which live in the heap):
 * a lazy fork takes it first, so that no thread holds it while it waits on the protected heap. */
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
extern void _IO_list_resetlock(void);

extern char __libc_single_threaded __attribute__((weak)); /* glibc 2.32+ */

#pragma GCC visibility push(hidden)

static int child_fd = -1;              /* copy: the child's file, between prepare and child() */
static volatile sig_atomic_t kept_out; /* copy: the views are MADV_DONTFORK, prepare → parent/child */
static volatile sig_atomic_t child_mapped; /* copy: the child has mapped child_fd over the views */
static pid_t copy_parent;              /* copy: the forking process */
static volatile sig_atomic_t heap_stack; /* copy: the forking thread runs on a heap object */
static MG_TLS volatile sig_atomic_t fork_thread; /* copy: this thread forks with the views kept out */
static int lazy;                       /* this fork is lazy (prepare → parent/child) */
static int gate_pipe[2] = {-1, -1};    /* this fork's gate, between prepare and parent/child */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER; /* one fork or snapshot at a time */

/* ---- The parent's side of a pending child ------------------------------------------------- */

_Atomic int _mg_fork_pending;          /* a lazily forked child may still read the file as it was */
static int gate = -1;                  /* read end of its gate */
static int child_uffd = -1;            /* its userfaultfd, from the fork event */
static _Atomic int expect_child;       /* prepare → the handler: the next fork event is it */
static size_t protected_size;          /* [0, this) was write-protected at the fork */
static long waiting_since = -1;        /* the first parent write held, or settle request, since (ms) */
static int kick[2] = {-1, -1};         /* wakes the handler: a new gate, or a settle request */
static _Atomic int forking;            /* between prepare and parent(): no gate or child yet */
static pid_t forking_tid;              /* the thread in prepare → parent() */
static volatile sig_atomic_t window_writes; /* the heap went unprotected before the fork (below) */
static _Atomic long window_opened;     /* when the arena was protected, or last unblocked (ms) */
static int glibc_writes_heap;          /* glibc's fork wrote the heap here once: it always will */
#define WINDOW_MS 200 /* a fork not made this long after a write was held waits on it: unprotect */
static _Atomic int settle_wanted;      /* a parent thread waits in _mg_fork_settle */
static pthread_mutex_t settle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t settled = PTHREAD_COND_INITIALIZER;
static unsigned long moves, finishes;  /* settlements, by kind (verbosity=2) */
static long move_ns_per_live = 3000;   /* what a move costs, from the last big one */
#define LAZY_FROM_LIVE 1000 /* below, a single-threaded process copies: cheaper than the round trips */

/* How long the parent waits for the child before it moves (ms). */
static long patience_ms(void)
{
    long cost = (long)((long long)_mg_slots_live() * move_ns_per_live / 1000000);
    return cost > _mg_opt.fork_wait_ms ? cost : _mg_opt.fork_wait_ms;
}

/* Nobody reads the old state any more: wake every parent thread waiting for it. */
static void settle_done(void)
{
    if (gate >= 0) close(gate);
    if (child_uffd >= 0) close(child_uffd);
    gate = child_uffd = -1;
    waiting_since = -1;
    pthread_mutex_lock(&settle_mu);
    atomic_store(&settle_wanted, 0);
    atomic_store(&expect_child, 0);
    atomic_store(&_mg_fork_pending, 0);
    pthread_cond_broadcast(&settled);
    pthread_mutex_unlock(&settle_mu);
}

/* The child exec'd or exited: the file is the parent's alone. Lifting the protection wakes the
 * parent's waiting writers. */
static void finish(void)
{
    (void)_mg_uffd_protect(0, protected_size, 0);
    finishes++;
    settle_done();
}

/* The child lives on and needs its heap, or the parent waited long enough: the parent takes a
 * copy and leaves the old file to the child. */
static void move(void)
{
    long long t0 = _mg_now_ns();
    size_t live = _mg_slots_live();
    _mg_slots_lock();
    int fd = _mg_arena_clone_file();
    int err = fd < 0 ? ENOMEM : _mg_arena_adopt(fd, 0);
    if (!err) err = _mg_uffd_register();
    if (!err) err = _mg_slots_reguard();
    _mg_slots_unlock();
    if (err) {
        _mg_warn("fork: could not give the parent a private copy of the heap; parent and child still share it");
        _mg_die(_mg_opt.exitcode);
    }
    /* The parent's writers waited on the old mapping; on the new one nothing is protected. */
    (void)_mg_uffd_wake(0, _mg_arena.reserve);
    /* Unregistering lifts the child's protection; its writers waiting on it are woken here
     * (the kernel's unregister wakes only missing-page waiters). The file is theirs. */
    struct uffdio_range all = {.start = _mg_arena.rw, .len = _mg_arena.reserve};
    if (child_uffd >= 0) {
        (void)ioctl(child_uffd, UFFDIO_UNREGISTER, &all);
        (void)ioctl(child_uffd, UFFDIO_WAKE, &all);
    }
    /* A small heap's move is mostly fixed cost: only big ones say what a live object costs. */
    if (live >= LAZY_FROM_LIVE) {
        long per = (long)((_mg_now_ns() - t0) / (long long)live);
        move_ns_per_live = per < 500 ? 500 : per > 20000 ? 20000 : per;
    }
    moves++;
    settle_done();
}

/* Does the child's address space still exist? Protecting one page again through its
 * userfaultfd is harmless, and fails with ESRCH once its memory is gone. */
static int child_alive(void)
{
    return _mg_uffd_protect_fd(child_uffd, 0, _mg_arena.page, 1) != ESRCH;
}

/* How long a write has been held while the fork is not even made (ms), or -1. */
static long stuck_ms(void)
{
    if (!atomic_load(&expect_child) || waiting_since < 0) return -1;
    long opened = atomic_load(&window_opened);
    return _mg_now_ms() - (waiting_since > opened ? waiting_since : opened);
}

int _mg_fork_watch(struct pollfd *fds, int *timeout)
{
    if (!atomic_load(&_mg_fork_pending)) return 0;
    int n = 0;
    fds[n++] = (struct pollfd){.fd = kick[0], .events = POLLIN};
    if (atomic_load(&forking)) { /* parent() kicks once the gate is known */
        long stuck = stuck_ms();
        if (stuck >= 0) *timeout = stuck >= WINDOW_MS ? 0 : (int)(WINDOW_MS - stuck);
        return n;
    }
    fds[n++] = (struct pollfd){.fd = gate, .events = POLLIN};
    if (child_uffd >= 0) fds[n++] = (struct pollfd){.fd = child_uffd, .events = POLLIN};
    if (waiting_since >= 0) {
        long left = waiting_since + patience_ms() - _mg_now_ms();
        *timeout = left < 0 ? 0 : (int)left;
    }
    return n;
}

void _mg_fork_serve(const struct pollfd *fds, int n)
{
    if (n == 0 || !atomic_load(&_mg_fork_pending)) return;
    if (fds[0].revents & POLLIN) {
        char buf[64];
        while (read(kick[0], buf, sizeof buf) > 0) {}
    }
    if (atomic_load(&forking)) {
        /* Nothing to decide before parent(), unless the fork is not even made: the forking
         * thread waits on something a held writer owns (a lock in the heap that glibc's fork
         * takes). Once the kernel has begun the fork the ioctl fails (EAGAIN) and nothing is
         * unprotected; after the fork event (expect_child is 0) this is never tried. */
        if (stuck_ms() >= WINDOW_MS) {
            atomic_store(&window_opened, _mg_now_ms());
            window_writes = 1;
            (void)_mg_uffd_protect(0, protected_size, 0);
        }
        return;
    }
    if (n < 2) return;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        /* The gate closes at exec and exit, but also when the child closes its descriptors
         * (closefrom): only a child whose memory is gone (the ioctl says ESRCH) is done. */
        if (child_uffd >= 0 && child_alive()) move();
        else finish();
        return;
    }
    if (atomic_load(&settle_wanted) && waiting_since < 0) waiting_since = _mg_now_ms();
    int child_wrote = 0;
    if (n > 2 && (fds[2].revents & POLLIN)) {
        struct uffd_msg msgs[16];
        ssize_t got;
        while ((got = read(child_uffd, msgs, sizeof msgs)) > 0)
            for (ssize_t i = 0; i < got / (ssize_t)sizeof msgs[0]; i++) child_wrote |= msgs[i].event == UFFD_EVENT_PAGEFAULT;
    }
    if (child_wrote || (waiting_since >= 0 && _mg_now_ms() - waiting_since >= patience_ms())) move();
}

/* Write-protects [0, protected_size) again: the parent's range (fd < 0) or the child's, through
 * its descriptor. Until the forking thread has left the fork's event wait the kernel answers
 * EAGAIN; it is woken already, so try again. 0 or an errno value (ESRCH: the child is gone). */
static int protect_again(int fd)
{
    for (;;) {
        int err = fd < 0 ? _mg_uffd_protect(0, protected_size, 1) : _mg_uffd_protect_fd(fd, 0, protected_size, 1);
        if (err != EAGAIN) return err;
        sched_yield();
    }
}

void _mg_fork_event(int ufd)
{
    int expected = 1;
    if (!atomic_compare_exchange_strong(&expect_child, &expected, 0)) {
        close(ufd); /* a copied child maps its own file: it needs no watching */
        return;
    }
    child_uffd = ufd;
    /* Pages that went unprotected into the fork are protected again: in the child first, then
     * in the parent, before its fork returns. The child may run before that (reading the event
     * let the fork go on), and its first writes then reach the parent's file; it asks for its
     * heap at once (child()). A parent left unprotected would lose writes to the move. */
    if (window_writes) {
        (void)protect_again(ufd);
        if (protect_again(-1) != 0) {
            _mg_warn("fork: could not protect the heap again after the fork; parent and child would share it");
            _mg_die(_mg_opt.exitcode);
        }
    }
}

int _mg_fork_hold(pid_t writer)
{
    if (!atomic_load(&_mg_fork_pending)) return 0;
    /* Between the atfork handlers and the fork itself glibc writes the heap from the forking
     * thread: in a process with threads it locks and unlocks its NSS state, which it malloc'd.
     * Held, that write would wait for a decision made only after the fork, for ever. It goes
     * through instead, before the fork as it was meant to (_mg_fork_event and child() mend the
     * page's sharing). */
    if (atomic_load(&forking) && atomic_load(&expect_child) && writer == forking_tid) {
        window_writes = 1;
        glibc_writes_heap = 1;
        return 0;
    }
    if (waiting_since < 0) waiting_since = _mg_now_ms();
    return 1;
}

void _mg_fork_settle(void)
{
    if (!atomic_load(&_mg_fork_pending)) return;
    char b = 1;
    pthread_mutex_lock(&settle_mu);
    atomic_store(&settle_wanted, 1);
    if (atomic_load(&_mg_fork_pending)) (void)write(kick[1], &b, 1);
    while (atomic_load(&_mg_fork_pending)) pthread_cond_wait(&settled, &settle_mu);
    pthread_mutex_unlock(&settle_mu);
}

/* ---- The child's side: its heap is still the parent's file -------------------------------- */

int _mg_fork_child_pending;
static int child_gate = -1;            /* the write end, closed when the child has its own heap */
static uint64_t token;                 /* a page of the file no object uses: the child's knock */

/* Frees of inherited objects while pending: checked and marked freed at once, retired (guarded,
 * punched, queued) once the heap is owned. */
#define DEFERRED 65536
static uint32_t *deferred;
static size_t ndeferred;

int _mg_fork_defer_free(uint32_t id)
{
    if (!deferred) {
        void *m = mmap(NULL, DEFERRED * sizeof *deferred, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) { _mg_fork_own_heap(); return 0; }
        deferred = m;
    }
    if (ndeferred == DEFERRED) { _mg_fork_own_heap(); return 0; }
    deferred[ndeferred++] = id;
    return 1;
}

void _mg_fork_own_heap(void)
{
    if (!_mg_fork_child_pending) return;
    _mg_fork_child_pending = 0;
    /* A write to a protected page waits until the parent has moved away (or exited): then the
     * file is this process's own. The page is made a hole again for the slot that takes it. */
    *(volatile uint8_t *)(_mg_arena.rw + token) = 0;
    (void)_mg_arena_release(token, _mg_arena.page);
    if (child_gate >= 0) close(child_gate);
    child_gate = -1;
    for (size_t i = 0; i < ndeferred; i++) _mg_slot_retire(deferred[i]);
    ndeferred = 0;
}

/* The child's allocations while pending: bump-allocated from a private mapping, never freed,
 * sized in the 16 bytes before each block (like the bootstrap arena). */
#define FORK_REGION ((size_t)1 << 30)
static _Atomic uintptr_t region;
static _Atomic size_t region_used;

void *_mg_fork_alloc(size_t size, size_t align)
{
    uintptr_t base = atomic_load(&region);
    if (!base) {
        /* The child may have started threads: one mapping wins, the others are dropped. */
        void *m = mmap(NULL, FORK_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) { _mg_fork_own_heap(); return NULL; }
        uintptr_t none = 0;
        if (atomic_compare_exchange_strong(&region, &none, (uintptr_t)m)) _mg_leaks_exclude(m, FORK_REGION);
        else munmap(m, FORK_REGION);
        base = atomic_load(&region);
    }
    if (align < 16) align = 16;
    if (size > FORK_REGION / 4 || align > FORK_REGION / 4) { _mg_fork_own_heap(); return NULL; }
    size_t used = atomic_load(&region_used), end;
    uintptr_t p;
    do {
        p = (base + used + 16 + align - 1) & ~(uintptr_t)(align - 1);
        end = p + size - base;
        if (end > FORK_REGION) { _mg_fork_own_heap(); return NULL; } /* the arena again */
    } while (!atomic_compare_exchange_weak(&region_used, &used, end));
    ((size_t *)p)[-1] = size;
    return (void *)p;
}

int _mg_fork_owns(const void *p)
{
    uintptr_t base = atomic_load_explicit(&region, memory_order_relaxed);
    return base && (uintptr_t)p - base < FORK_REGION;
}

/* ---- The atfork handlers ------------------------------------------------------------------ */

/* No thread was ever started (glibc 2.32+; unknown counts as threaded). glibc's fork child
 * resets every FILE's lock only when the parent had threads. */
static int single_threaded(void)
{
    return &__libc_single_threaded ? __libc_single_threaded : 0;
}

int _mg_fork_wants_lazy(void)
{
    if (_mg_opt.fork != MG_FORK_AUTO) return _mg_opt.fork == MG_FORK_LAZY;
    /* Such a fork always ends in a copy, made later and dearer than at once; a process whose
     * only other threads are MirrorGuard's has nobody whose writes a copy could tear. (bash
     * without SHELL set: 16 ms a fork lazily, 8 ms copying.) */
    if (glibc_writes_heap && _mg_program_threads() == 1) return 0;
    /* auto: in a process with threads the lazy way, where writes made after the protection
     * wait, gives the child a heap of one instant; a copy is made while other threads write
     * (an object half-updated, a FILE's buffer ahead of its pointers). A single-threaded process
     * copies a small heap, which is cheaper than the round trips. */
    return !single_threaded() || _mg_slots_live() >= LAZY_FROM_LIVE;
}

/* The forking thread runs on a stack that is a heap object (a coroutine's, or one given to
 * pthread_attr_setstack): lazily, its own next push would wait on the protection for ever. */
static int stack_in_heap(void)
{
    return _mg_in_arena(__builtin_frame_address(0));
}

static int try_lazy(void)
{
    if (!_mg_fork_wants_lazy() || atomic_load(&_mg_snapshots_active) || stack_in_heap()) return 0;
    if (kick[0] < 0 && pipe2(kick, O_CLOEXEC | O_NONBLOCK) != 0) return 0;
    /* The handler thread must be running already: the fork() interposer (preload.c) starts it.
     * A fork that bypassed it (an internal libc call) is copied. */
    return _mg_uffd_running();
}

/* The forking thread's alternate signal stack, if it lies in the heap (a malloc'd one), is
 * swapped for this one while the child has no heap: a fault there must find a stack. */
static _Alignas(16) unsigned char fork_altstack[64 * 1024];
static stack_t saved_altstack;
static int altstack_swapped;

static int altstack_out(int always)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0) return -1;
    int in_heap = !(cur.ss_flags & SS_DISABLE) && _mg_in_arena(cur.ss_sp);
    if (!always && !in_heap) return 0;
    if (cur.ss_flags & SS_ONSTACK) return -1; /* forking from a handler on it: cannot swap */
    stack_t ours = {.ss_sp = fork_altstack, .ss_size = sizeof fork_altstack};
    if (sigaltstack(&ours, NULL) != 0) return -1;
    saved_altstack = cur;
    altstack_swapped = 1;
    return 0;
}

static void altstack_back(void)
{
    if (!altstack_swapped) return;
    altstack_swapped = 0;
    saved_altstack.ss_flags &= ~SS_ONSTACK; /* SS_DISABLE (none) and SS_AUTODISARM are kept */
    (void)sigaltstack(&saved_altstack, NULL);
}

static sigset_t fork_mask;             /* the forking thread's signal mask, prepare → parent/child */
static int masked, list_locked;

/* This fork will not be lazy after all: nobody is pending, the gate opens again. */
static void give_up_lazy(void)
{
    atomic_store(&forking, 0);
    settle_done();
    lazy = 0;
}

/* The copy: the child's file, made now; in a process with threads (or on a heap stack) the
 * views are kept out of the child until it maps that file. */
static void prepare_copy(void)
{
    child_fd = _mg_arena_clone_file();
    copy_parent = getpid();
    child_mapped = 0;
    /* A stack in the heap is kept out of the child too: the child cannot run on a copy
     * taken before the fork, but its pushes must never land in the parent's stack. */
    heap_stack = stack_in_heap();
    if (heap_stack) _mg_warn("fork: called on a stack that is a heap object; the child cannot run on it and dies");
    int keep = child_fd >= 0 && (heap_stack || !single_threaded());
    /* The child's first fault needs a signal stack outside the heap: the thread's own if it is,
     * else ours. On a heap stack always ours, whatever the thread had, so that the child can say
     * why it dies; there the heap is kept out even if no stack could be given. */
    if (keep && altstack_out(heap_stack) != 0 && !heap_stack) keep = 0;
    kept_out = keep && _mg_arena_keep_from_fork(1) == 0;
    if (!kept_out) altstack_back();
    if (kept_out) {
        /* The child's first fault maps its heap: it must be deliverable (a blocked fault
         * kills), and only in this thread's child (not one that another thread's raw
         * _Fork makes meanwhile, which would share this child's copy). */
        sigset_t faults;
        sigemptyset(&faults);
        sigaddset(&faults, SIGSEGV);
        sigaddset(&faults, SIGBUS);
        pthread_sigmask(SIG_UNBLOCK, &faults, NULL);
        fork_thread = 1;
    }
}

static void prepare(void)
{
    if (!_mg_ready()) return;
    /* No signal handler of the program may run in the forking thread until the fork is done: one
     * that wrote to the heap would wait on the protection, and the fork with it. */
    _mg_signals_block(&fork_mask);
    masked = 1;
    _mg_fork_own_heap();              /* a pending child forking: its heap first */
    pthread_mutex_lock(&fork_lock);
    _mg_fork_settle();                /* one pending child at a time */
    lazy = try_lazy();
    if (lazy) {
        _IO_list_lock();
        list_locked = 1;
        /* Close the gate (new allocation calls wait), then let the calls in flight finish: none
         * may be half-way through changing the file when it is protected. Pending before
         * protecting, too: a write by another thread that stops on the protection is held,
         * never waved through. */
        forking_tid = _mg_gettid();
        window_writes = 0;
        atomic_store(&forking, 1);
        atomic_store(&_mg_fork_pending, 1);
        _mg_follow_normal();
        if (_mg_api_wait_ops() != 0) give_up_lazy();
    }
    _mg_slots_lock();
    if (lazy) {
        /* The child's knock page lies inside the protected range. */
        token = _mg_slots_bump_offset();
        if (_mg_arena_grow(token + _mg_arena.page) != 0 || pipe2(gate_pipe, O_CLOEXEC) != 0) give_up_lazy();
    }
    if (lazy) {
        protected_size = atomic_load(&_mg_arena.file_size);
        atomic_store(&window_opened, _mg_now_ms());
        atomic_store(&expect_child, 1);
        if (_mg_uffd_protect(0, protected_size, 1) != 0) {
            (void)_mg_uffd_protect(0, protected_size, 0); /* whatever part took; wakes the held */
            close(gate_pipe[0]);
            close(gate_pipe[1]);
            give_up_lazy();
        }
    }
    if (!lazy) prepare_copy();
    /* Last: the copy needs only the slots lock, and other threads' frees capture their stacks
     * before they reach it. The child must not inherit a table half-way through an insert. */
    _mg_stacks_lock();
}

/* The copy window ends, in parent() and child(): the views fork normally again (the parent's
 * mark; the child has none to undo) and the thread's own signal stack is back. */
static void copy_window_end(int in_parent)
{
    if (kept_out && in_parent) (void)_mg_arena_keep_from_fork(0);
    kept_out = 0;
    fork_thread = 0;
    altstack_back();
}

/* The child's views, from its copy. Async-signal-safe: the fault handler may call it. */
static int map_child_copy(void)
{
    if (child_mapped) return 0;
    int err = _mg_arena_adopt(child_fd, kept_out);
    if (!err) child_mapped = 1;
    return err;
}

int _mg_fork_copy_fault(uintptr_t addr)
{
    if (!kept_out || !fork_thread || child_mapped || !_mg_in_arena((const void *)addr) || getpid() == copy_parent)
        return 0;
    const char *why = heap_stack ? "fork: the child's stack was a heap object; it cannot run"
                                 : map_child_copy() != 0 ? "fork: could not map the child's copy of the heap" : NULL;
    if (why) {
        _mg_warn(why);
        _mg_die(_mg_opt.exitcode);
    }
    return 1;
}

static void parent(void)
{
    if (!_mg_ready()) return;
    if (lazy) {
        /* The child holds the only write end now (or, if the fork failed, nobody does and the
         * gate hangs up at once). The handler starts watching it. */
        close(gate_pipe[1]);
        gate = gate_pipe[0];
        atomic_store(&forking, 0);
        char b = 1;
        (void)write(kick[1], &b, 1);
    }
    copy_window_end(1);
    if (child_fd >= 0) close(child_fd);
    child_fd = -1;
    _mg_stacks_unlock();
    _mg_slots_unlock();
    if (list_locked) { list_locked = 0; _IO_list_unlock(); }
    pthread_mutex_unlock(&fork_lock);
    if (masked) { masked = 0; _mg_signals_restore(&fork_mask); }
}

static void child(void)
{
    _mg_forget_tid();
    _mg_api_after_fork_child();
    _mg_report_after_fork_child();
    _mg_continue_after_fork_child();
    _mg_symbols_after_fork_child();
    pthread_mutex_init(&fork_lock, NULL);
    pthread_mutex_init(&settle_mu, NULL);
    if (!_mg_ready()) return;
    /* The parent's watching is not ours. */
    atomic_store(&_mg_fork_pending, 0);
    atomic_store(&expect_child, 0);
    atomic_store(&forking, 0);
    atomic_store(&settle_wanted, 0);
    waiting_since = -1;
    if (gate >= 0) close(gate);
    if (kick[0] >= 0) { close(kick[0]); close(kick[1]); }
    gate = kick[0] = kick[1] = child_uffd = -1;
    if (lazy) {
        close(gate_pipe[0]);
        child_gate = gate_pipe[1];
        _mg_fork_child_pending = 1;
    } else if (child_fd < 0 || map_child_copy() != 0 || _mg_slots_reguard() != 0) {
        _mg_warn("fork: could not give the child a private copy of the heap; the child's heap writes would reach the parent");
        _mg_die(_mg_opt.exitcode);
    } else {
        _mg_slots_requeue_after_fork();
    }
    child_fd = -1;
    copy_window_end(0);
    _mg_snapshots_forget();
    _mg_stacks_unlock();
    _mg_slots_unlock();
    if (list_locked) { list_locked = 0; _IO_list_resetlock(); } /* one thread here: reset, not unlock */
    /* Part of the heap was unprotected when this child was made: the parent moves away now. Asked
     * through the gate, not by a write, which would not wait where the protection is missing;
     * the parent's handler closes its end once it has moved. */
    if (lazy && window_writes) {
        char b = 1;
        struct pollfd p = {.fd = child_gate}; /* no events: POLLERR alone, when the end closes */
        if (write(child_gate, &b, 1) == 1) {
            while (poll(&p, 1, -1) != 1 || !(p.revents & (POLLERR | POLLHUP | POLLNVAL))) {}
        } else {
            /* Moved already (a write of glibc's was seen): the SIGPIPE, still blocked, is ours. */
            sigset_t pipe_signal;
            sigemptyset(&pipe_signal);
            sigaddset(&pipe_signal, SIGPIPE);
            (void)sigtimedwait(&pipe_signal, NULL, &(struct timespec){0, 0});
        }
        _mg_fork_own_heap();
    }
    if (masked) { masked = 0; _mg_signals_restore(&fork_mask); }
}

void _mg_fork_install(void)
{
    pthread_atfork(prepare, parent, child);
}

void _mg_fork_lock(void)
{
    _mg_fork_own_heap();
    pthread_mutex_lock(&fork_lock);
    _mg_fork_settle();
}

void _mg_fork_unlock(void)
{
    pthread_mutex_unlock(&fork_lock);
}

void _mg_fork_stats(unsigned long *lazy_finished, unsigned long *lazy_moved)
{
    *lazy_finished = finishes;
    *lazy_moved = moves;
}

#pragma GCC visibility pop
