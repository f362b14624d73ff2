/* floor.c — the kernel's price of one guarded free + malloc on this machine, with no allocator.
 *
 *   floor [SLOTS] [PAIRS]        (defaults 1,000 and 100,000)
 *
 * Builds MirrorGuard's layout by hand: one memfd mapped twice (read-only and writable views),
 * SLOTS slots of one data page followed by a guard page (MADV_GUARD_INSTALL in both views), every
 * data page written once. Then, PAIRS times, it picks a random slot and does to it exactly the
 * page work a free + malloc pair needs when freed memory must trap at once and go back to the
 * system, timing each step with the vDSO clock (its own cost measured and taken off):
 *
 *   guard_ro     guard the data page in the read-only view (not mapped there: a marker only)
 *   guard_rw     guard it in the writable view (mapped: the page is unmapped, the TLB flushed)
 *   punch        punch it out of the file (FALLOC_FL_PUNCH_HOLE): RSS follows live memory
 *   unguard      lift both guards (the slot is reused)
 *   fresh_fault  the first write to it: a new zeroed page
 *
 * A second pass keeps the page in the file (no punch) and uses the writable view only, the least
 * any design with one page per object can do when a freed object must trap at once:
 *
 *   bare_guard   guard the mapped page        bare_unguard  lift it     minor_fault  write to it again
 *
 * Nothing here is MirrorGuard's code, so the figures bound every allocator that does this page
 * work one object at a time: guarding a freed page at once and faulting it back in at reuse
 * cannot cost less than `bare_guard + minor_fault` on this kernel and machine.
 *
 * A third pass measures what batching buys the punch: every slot written, then guarded in both
 * views, then punched one slot per call (punch_alone) or 64 neighbouring slots per call, the
 * guard pages between them included (punch_run64); microseconds per slot.
 *
 * Output (stdout): one line per step `floor step=NAME us=X`, then
 *   floor pair_us=X bare_us=Y slots=N pairs=M
 * or `floor unsupported errno=E` where the kernel has no guard markers on shared memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

static inline uint64_t ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum { GUARD_RO, GUARD_RW, PUNCH, UNGUARD, FRESH, BARE_GUARD, BARE_UNGUARD, MINOR, PUNCH_ALONE, PUNCH_RUN, NSTEPS };
static const char *const names[NSTEPS] = {"guard_ro", "guard_rw", "punch", "unguard", "fresh_fault",
                                          "bare_guard", "bare_unguard", "minor_fault", "punch_alone", "punch_run64"};
static uint64_t total[NSTEPS];

static void must(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "floor: %s failed: errno %d\n", what, errno);
    exit(1);
}

/* The first guard marker tells whether the kernel has them on shared memory at all. */
static void guard_first(void *p, size_t len)
{
    if (madvise(p, len, MADV_GUARD_INSTALL) == 0) return;
    if (errno == EINVAL) {
        printf("floor unsupported errno=%d\n", errno);
        exit(0);
    }
    must(0, "MADV_GUARD_INSTALL");
}

/* Every data page written, then guarded in both views (freed), as before a batch is punched. */
static void free_all(char *ro, char *rw, long nslots, size_t pg)
{
    for (long i = 0; i < nslots; i++) {
        size_t data = (size_t)(2 * i + 1) * pg;
        must(madvise(ro + data, pg, MADV_GUARD_REMOVE) == 0 && madvise(rw + data, pg, MADV_GUARD_REMOVE) == 0, "unguard");
        rw[data] = 1;
        must(madvise(ro + data, pg, MADV_GUARD_INSTALL) == 0 && madvise(rw + data, pg, MADV_GUARD_INSTALL) == 0, "guard");
    }
}

int main(int argc, char **argv)
{
    long nslots = argc > 1 ? atol(argv[1]) : 1000, pairs = argc > 2 ? atol(argv[2]) : 100000;
    if (nslots < 1 || pairs < 1) return 64;
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE), size = (size_t)(2 * nslots + 1) * pg;
    int fd = memfd_create("floor", 0);
    must(fd >= 0 && ftruncate(fd, (off_t)size) == 0, "memfd");
    char *ro = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    char *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    must(ro != MAP_FAILED && rw != MAP_FAILED, "mmap");
    guard_first(rw, pg);
    for (long i = 0; i < nslots; i++) {
        size_t data = (size_t)(2 * i + 1) * pg, guard = data + pg;
        must(madvise(ro + guard, pg, MADV_GUARD_INSTALL) == 0 && madvise(rw + guard, pg, MADV_GUARD_INSTALL) == 0,
             "MADV_GUARD_INSTALL");
        rw[data] = 1;
    }

    uint64_t clock_cost = ns();
    for (int i = 0; i < 1000; i++) (void)ns();
    clock_cost = (ns() - clock_cost) / 1001;

    for (int pass = 0; pass < 2; pass++) {
        for (long k = 0; k < pairs; k++) {
            size_t data = (size_t)(2 * (random() % nslots) + 1) * pg;
            uint64_t t[6];
            t[0] = ns();
            if (pass == 0) {
                must(madvise(ro + data, pg, MADV_GUARD_INSTALL) == 0, "guard ro");
                t[1] = ns();
                must(madvise(rw + data, pg, MADV_GUARD_INSTALL) == 0, "guard rw");
                t[2] = ns();
                must(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)data, (off_t)pg) == 0, "punch");
                t[3] = ns();
                must(madvise(ro + data, pg, MADV_GUARD_REMOVE) == 0 && madvise(rw + data, pg, MADV_GUARD_REMOVE) == 0,
                     "unguard");
                t[4] = ns();
                *(volatile char *)(rw + data) = 1;
                t[5] = ns();
                for (int s = 0; s < 5; s++) total[GUARD_RO + s] += t[s + 1] - t[s] - clock_cost;
            } else {
                must(madvise(rw + data, pg, MADV_GUARD_INSTALL) == 0, "bare guard");
                t[1] = ns();
                must(madvise(rw + data, pg, MADV_GUARD_REMOVE) == 0, "bare unguard");
                t[2] = ns();
                *(volatile char *)(rw + data) = 1;
                t[3] = ns();
                for (int s = 0; s < 3; s++) total[BARE_GUARD + s] += t[s + 1] - t[s] - clock_cost;
            }
        }
    }
    /* Batching the punch: rounds over all slots until about `pairs` slots were punched each way. */
    long rounds = pairs / nslots > 0 ? pairs / nslots : 1;
    for (long r = 0; r < rounds; r++) {
        for (int run = 1; run <= 64; run += 63) {
            free_all(ro, rw, nslots, pg);
            uint64_t t0 = ns();
            for (long i = 0; i < nslots; i += run) {
                long k = nslots - i < run ? nslots - i : run;
                size_t from = (size_t)(2 * i + 1) * pg, len = (size_t)(2 * k - 1) * pg;
                must(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)len) == 0, "punch");
            }
            total[run == 1 ? PUNCH_ALONE : PUNCH_RUN] += ns() - t0;
        }
    }
    double pair = 0, bare = 0;
    for (int s = 0; s < NSTEPS; s++) {
        double per = s >= PUNCH_ALONE ? (double)(rounds * nslots) : (double)pairs;
        double us = (double)total[s] / per / 1000.0;
        printf("floor step=%s us=%.3f\n", names[s], us);
        if (s < BARE_GUARD) pair += us;
        else if (s < PUNCH_ALONE) bare += us;
    }
    printf("floor pair_us=%.3f bare_us=%.3f slots=%ld pairs=%ld\n", pair, bare, nslots, pairs);
    return 0;
}
