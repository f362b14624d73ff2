/*
 * stacks.c — capturing stacks with libunwind and storing each distinct one once.
 *
 * Every allocation and every free records its stack, so this is on the hot path of malloc. The
 * capture uses unw_backtrace, which walks the frames with libunwind's cached unwind info and
 * allocates nothing (its first call is slow, so start-up primes it). Frames above the public entry
 * point are dropped by looking for the entry point's return address, which is robust against
 * inlining and tail calls inside the library.
 *
 * The store is an open-addressing hash table of stack ids over an append-only pool of frames,
 * both reserved with mmap up front and never moved, so reports and the signal handler read a
 * stack by id without a lock. Inserting takes a spinlock held for a few dozen instructions
 * (a fork holds it from its prepare handler until the fork is made; waiters then yield).
 */
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

#define TABLE_BITS 22                      /* 4M distinct stacks at most */
#define TABLE_SIZE (1u << TABLE_BITS)
#define POOL_WORDS ((size_t)1 << 27)       /* 1 GiB of frames, reserved, touched as used */

struct entry {
    uint32_t hash;
    uint32_t start;   /* index into pool; the frame count is pool[start - 1] */
};

static struct entry *table;    /* TABLE_SIZE entries; id = slot index + 1 */
static uintptr_t *pool;
static size_t pool_used = 1;   /* pool[0] unused so that start 0 means "empty" */
static atomic_flag lock = ATOMIC_FLAG_INIT;

void _mg_stacks_init(void)
{
    table = mmap(NULL, TABLE_SIZE * sizeof *table, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    pool = mmap(NULL, POOL_WORDS * sizeof *pool, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (table == MAP_FAILED || pool == MAP_FAILED) _mg_fatal("cannot reserve the stack store", 0);
    _mg_leaks_exclude(table, TABLE_SIZE * sizeof *table);
    _mg_leaks_exclude(pool, POOL_WORDS * sizeof *pool);
    /* libunwind's first walk reads and caches unwind tables (hundreds of microseconds); do it
     * now rather than in the first malloc or, worse, in the first fault. */
    void *prime[8];
    (void)unw_backtrace(prime, 8);
}

static uint32_t hash_frames(const uintptr_t *f, int n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    for (int i = 0; i < n; i++) {
        h ^= f[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    return (uint32_t)h | 1; /* never 0, which marks an empty entry */
}

/* Held for a few dozen instructions, except across a fork (until the fork is made): a waiter
 * spins briefly, then yields its CPU. */
static void take(void)
{
    for (unsigned spins = 0; atomic_flag_test_and_set_explicit(&lock, memory_order_acquire); spins++)
        if (spins >= 100) sched_yield();
}

static uint32_t store(const uintptr_t *f, int n)
{
    if (n <= 0 || !table) return 0;
    uint32_t h = hash_frames(f, n);
    uint32_t id = 0;
    take();
    for (uint32_t i = h & (TABLE_SIZE - 1), probes = 0; probes < 64; i = (i + 1) & (TABLE_SIZE - 1), probes++) {
        struct entry *e = &table[i];
        if (e->hash == 0) {
            if (pool_used + (size_t)n + 1 > POOL_WORDS) break;
            pool[pool_used] = (uintptr_t)n;
            memcpy(&pool[pool_used + 1], f, (size_t)n * sizeof *f);
            e->start = (uint32_t)(pool_used + 1);
            pool_used += (size_t)n + 1;
            atomic_thread_fence(memory_order_release);
            e->hash = h;
            id = i + 1;
            break;
        }
        if (e->hash == h && pool[e->start - 1] == (uintptr_t)n &&
            memcmp(&pool[e->start], f, (size_t)n * sizeof *f) == 0) {
            id = i + 1;
            break;
        }
    }
    atomic_flag_clear_explicit(&lock, memory_order_release);
    return id;
}

void _mg_stacks_lock(void)
{
    take();
}

void _mg_stacks_unlock(void)
{
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

__attribute__((noinline)) uint32_t _mg_stack_capture(uintptr_t ra)
{
    void *raw[MG_MAX_FRAMES + 16];
    int max = _mg_opt.max_frames + 16;
    int n = unw_backtrace(raw, max);
    int first = 1; /* without ra, drop this function's own frame */
    for (int i = 0; i < n; i++) {
        if ((uintptr_t)raw[i] == ra) { first = i; break; }
    }
    int keep = n - first;
    if (keep > _mg_opt.max_frames) keep = _mg_opt.max_frames;
    return store((const uintptr_t *)(raw + first), keep);
}

const uintptr_t *_mg_stack_get(uint32_t id, int *n)
{
    *n = 0;
    if (id == 0 || id > TABLE_SIZE || !table) return NULL;
    const struct entry *e = &table[id - 1];
    if (e->hash == 0) return NULL;
    *n = (int)pool[e->start - 1];
    return &pool[e->start];
}

int _mg_stack_from_signal(uintptr_t fault_pc, uintptr_t *buf, int max)
{
    /* unw_backtrace from the handler walks the handler's frames, the kernel's signal trampoline
     * and then the interrupted code, whose first frame is the faulting pc itself. */
    void *raw[MG_MAX_FRAMES + 32];
    int n = unw_backtrace(raw, MG_MAX_FRAMES + 32);
    int first = -1;
    for (int i = 0; i < n; i++) {
        if ((uintptr_t)raw[i] == fault_pc) { first = i; break; }
    }
    int count = 0;
    if (first < 0) {
        buf[count++] = fault_pc; /* could not unwind through the trampoline: at least the pc */
    } else {
        for (int i = first; i < n && count < max; i++) buf[count++] = (uintptr_t)raw[i];
    }
    return count;
}

#pragma GCC visibility pop
