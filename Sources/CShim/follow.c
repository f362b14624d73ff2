/*
 * follow.c — where the snapshot handler thread runs, so a first write costs microseconds, not a
 * wake-up of a sleeping CPU.
 *
 * A write-protect fault stops the writing thread in the kernel until the handler thread has
 * copied the page and lifted the protection (snapshot.c). If the handler sleeps on another CPU,
 * that costs two cross-CPU wake-ups per fault; in a VM whose idle vCPUs halt at once, each is
 * 15–25 µs. If the handler waits on the writer's own CPU instead, the writer's CPU has nothing
 * else to run while the writer is stopped, so the handler runs at once and the writer resumes
 * where it was: about 8 µs in all on this project's machines. Three things make that happen:
 *
 *   - The handler is SCHED_IDLE: a CPU running only it counts as idle, so the scheduler never
 *     moves the woken writer away to another CPU (which a normal-priority handler makes it do).
 *   - It follows the writer: each fault message carries the writer's thread id
 *     (UFFD_FEATURE_THREAD_ID); the writer's CPU is read from its rseq area, which glibc
 *     registers for every thread and which each thread records here on its first call into
 *     MirrorGuard. Two faults in a row from the same other CPU move the handler there. The area
 *     is read while its thread is stopped in the fault, so it cannot be freed under us; a thread
 *     that exits removes its entry first (a thread-specific key's destructor, from late
 *     start-up on).
 *   - A watchdog thread, normal priority, running only during bursts of faults, checks every
 *     millisecond that the handler is not starved by a busy CPU (faults waiting, none handled);
 *     if it is, the handler goes back to SCHED_OTHER for at least 100 ms.
 *   - While a lazy fork is pending (fork.c) the handler stays SCHED_OTHER: the parent's writers
 *     wait for its decision, which no fault the watchdog can see announces; starved at idle
 *     priority on busy CPUs, one fork took seconds.
 * Without the privilege to leave SCHED_IDLE again (CAP_SYS_NICE or RLIMIT_NICE) the handler stays
 * SCHED_OTHER, pinned and following: still correct, slower.
 *
 * Normal context, except _mg_follow_register, which runs on the allocation path: no locks, no
 * allocation. The handler and the watchdog never allocate: a write of their own to a protected
 * page would wait for the handler itself, so both threads are started by the thread that takes
 * the first snapshot, before anything is protected.
 */
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mg_internal.h"

/* glibc 2.35+ (absent: no rseq, and the handler only stays pinned where it started). */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

#pragma GCC visibility push(hidden)

/* ---- Which CPU a thread is on ------------------------------------------------------------- */

#define THREADS 4096  /* open addressing by thread id; a full table just stops following */
static struct {
    _Atomic pid_t tid;                  /* 0 = empty, -1 = removed */
    const volatile uint32_t *cpu;       /* the thread's rseq cpu_id */
} threads[THREADS];
static pthread_key_t exit_key;
static _Atomic int key_ready;

static void forget(void *arg)
{
    pid_t tid = (pid_t)(intptr_t)arg;
    for (unsigned i = (unsigned)tid % THREADS, n = 0; n < THREADS; i = (i + 1) % THREADS, n++) {
        pid_t t = atomic_load(&threads[i].tid);
        if (t == 0) return;
        if (t == tid) { atomic_store(&threads[i].tid, -1); return; }
    }
}

void _mg_follow_register(pid_t tid)
{
    if (&__rseq_size == NULL || &__rseq_offset == NULL || __rseq_size < 8) return;
    const volatile uint32_t *cpu = (const volatile uint32_t *)((char *)__builtin_thread_pointer() + __rseq_offset + 4);
    for (unsigned i = (unsigned)tid % THREADS, n = 0; n < THREADS; i = (i + 1) % THREADS, n++) {
        pid_t t = atomic_load(&threads[i].tid);
        if (t == tid || ((t == 0 || t == -1) && atomic_compare_exchange_strong(&threads[i].tid, &t, tid))) {
            threads[i].cpu = cpu;
            /* Keys past glibc's first block of 32 may allocate on first use: never from here. */
            if (atomic_load(&key_ready) && exit_key < 32) (void)pthread_setspecific(exit_key, (void *)(intptr_t)tid);
            return;
        }
    }
}

/* The CPU a thread stopped in a fault last ran on, or -1. */
static int cpu_of(pid_t tid)
{
    for (unsigned i = (unsigned)tid % THREADS, n = 0; n < THREADS; i = (i + 1) % THREADS, n++) {
        pid_t t = atomic_load(&threads[i].tid);
        if (t == 0) return -1;
        if (t == tid) {
            const volatile uint32_t *p = threads[i].cpu;
            int c = p ? (int)*p : -1;
            return c >= 0 ? c : -1;
        }
    }
    return -1;
}

/* ---- The handler's place and priority ----------------------------------------------------- */

static pid_t handler_tid;
static _Atomic int handler_cpu = -1;
static _Atomic int idle_policy;        /* the handler is SCHED_IDLE now */
static int can_idle;                   /* it may go SCHED_IDLE and come back */
static _Atomic unsigned long handled;
static _Atomic uint32_t burst;         /* the watchdog's futex: faults lately */
static _Atomic long last_fault_ms, last_rescue_ms;
static int fault_fd = -1;
static int watchdog_missing;
static int streak_cpu = -1, streak;

static int set_policy(pid_t tid, int idle)
{
    struct sched_param sp = {0};
    if (sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &sp) != 0) return errno;
    atomic_store(&idle_policy, idle);
    return 0;
}

static void pin(pid_t tid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(tid, sizeof set, &set) == 0 && tid == handler_tid) atomic_store(&handler_cpu, cpu);
}

static void *watchdog(void *arg)
{
    (void)arg;
    unsigned long last = 0;
    int on = -1;
    for (;;) {
        /* Quiet: look every 100 ms anyway. The handler wakes this thread when it handles a fault,
         * but a handler starved from the start of a burst handles none. */
        while (!atomic_load(&burst)) {
            struct timespec quiet = {0, 100 * 1000 * 1000};
            struct pollfd p = {.fd = fault_fd, .events = POLLIN};
            syscall(SYS_futex, &burst, FUTEX_WAIT_PRIVATE, 0, &quiet, NULL, 0);
            if (atomic_load(&_mg_fork_pending)) _mg_follow_normal();
            if (!atomic_load(&burst) && can_idle && atomic_load(&idle_policy) && poll(&p, 1, 0) == 1) {
                atomic_store(&burst, 1); /* faults wait and nobody handles them: watch closely */
                atomic_store(&last_fault_ms, _mg_now_ms());
            }
        }
        /* On the handler's CPU: ticking on the other one would make that CPU's idle balancing
         * pull the writer away from the handler. */
        int hc = atomic_load(&handler_cpu);
        if (hc >= 0 && hc != on) { pin(0, hc); on = hc; }
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
        unsigned long h = atomic_load(&handled);
        struct pollfd p = {.fd = fault_fd, .events = POLLIN};
        if (atomic_load(&idle_policy) && h == last && poll(&p, 1, 0) == 1) {
            /* Faults waiting and none handled for a whole tick: the CPU is busy and the handler
             * starved. */
            (void)set_policy(handler_tid, 0);
            atomic_store(&last_rescue_ms, _mg_now_ms());
        }
        last = h;
        if (_mg_now_ms() - atomic_load(&last_fault_ms) > 50) atomic_store(&burst, 0);
    }
    return NULL;
}

/* While a lazy fork is pending the handler decides when the parent's held writers go on, and
 * the watchdog sees only the arena's own faults: the handler runs at normal priority. Called by
 * the forking thread, by the handler on each turn, and by the watchdog when quiet (a handler
 * that was just starting when the fork began). */
void _mg_follow_normal(void)
{
    if (!can_idle) return;
    atomic_store(&last_rescue_ms, _mg_now_ms());
    if (handler_tid && atomic_load(&idle_policy)) (void)set_policy(handler_tid, 0);
}

/* At late start-up (outside the first malloc): from here every thread that registers gets a
 * destructor that removes its entry, so a later thread reusing its id never finds a stale
 * pointer into a stack that may be gone. Threads registered before (the one starting
 * MirrorGuard, as a rule) keep theirs; this one is given its destructor now. */
void _mg_follow_init(void)
{
    if (pthread_key_create(&exit_key, forget) != 0) return;
    atomic_store(&key_ready, 1);
    _mg_follow_register(_mg_gettid());
}

void _mg_follow_start(int uffd)
{
    fault_fd = uffd;
    if (_mg_thread_start(watchdog, NULL) != 0) watchdog_missing = 1;
}

void _mg_follow_enter(void)
{
    handler_tid = _mg_gettid();
    int cpu = sched_getcpu();
    if (cpu >= 0) pin(handler_tid, cpu);
    /* Idle only if the way back is allowed too, and someone watches for starvation. */
    can_idle = !watchdog_missing && set_policy(0, 1) == 0 && set_policy(0, 0) == 0 && set_policy(0, 1) == 0;
    if (!can_idle) (void)set_policy(0, 0);
}

void _mg_follow_fault(pid_t writer)
{
    int wc = writer > 0 ? cpu_of(writer) : -1, me = atomic_load(&handler_cpu);
    if (wc < 0 || wc == me) {
        streak = 0;
    } else {
        /* The writer runs elsewhere: another CPU was idle, so idle priority is safe again. */
        if (can_idle && !atomic_load(&idle_policy) && !atomic_load(&_mg_fork_pending) &&
            _mg_now_ms() - atomic_load(&last_rescue_ms) > 100)
            (void)set_policy(0, 1);
        streak = wc == streak_cpu ? streak + 1 : 1;
        streak_cpu = wc;
        if (streak >= 2) { pin(handler_tid, wc); streak = 0; }
    }
}

void _mg_follow_handled(void)
{
    atomic_fetch_add(&handled, 1);
    atomic_store(&last_fault_ms, _mg_now_ms());
    if (can_idle && !atomic_load(&burst)) {
        atomic_store(&burst, 1);
        syscall(SYS_futex, &burst, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

#pragma GCC visibility pop
