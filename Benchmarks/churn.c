/* churn.c — allocator throughput with a fixed number of live objects.
 *
 *   churn LIVE MAX_OPS SECONDS [SEED]
 *
 * Keeps LIVE objects alive in a table. Set-up mallocs LIVE objects of random size 1..256 bytes
 * (writing the first byte of each). Then each op picks a random table slot, frees it and mallocs a
 * new object of random size 1..256 (writing its first byte), until MAX_OPS ops are done or SECONDS
 * have passed, whichever comes first (the clock is read every 64 ops). The table itself is mmap'ed,
 * not malloc'ed, so only the measured objects go through the allocator under test.
 *
 * Output (stdout, flushed):
 *   churn-setup live=L secs=S                            set-up done
 *   churn live=L ops=N secs=S ops_per_s=X                the result
 *   churn-fail live=L phase=setup|run at=I errno=E       malloc returned NULL (exit status 2)
 * A progress line `churn-progress ops=N secs=S` is printed about every half second, so a run killed
 * from outside (timeout) can still be scored from the ops it actually did.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: churn LIVE MAX_OPS SECONDS [SEED]\n");
        return 64;
    }
    long live = atol(argv[1]);
    long max_ops = atol(argv[2]);
    double seconds = atof(argv[3]);
    if (argc > 4) rng_state ^= (uint64_t)atoll(argv[4]) * 0x9E3779B97F4A7C15ull;
    if (live < 1) return 64;
    setvbuf(stdout, NULL, _IOLBF, 0);

    char **slot = mmap(NULL, (size_t)live * sizeof *slot, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slot == MAP_FAILED) return 70;

    double t0 = now();
    for (long i = 0; i < live; i++) {
        size_t n = 1 + rng() % 256;
        errno = 0;
        slot[i] = malloc(n);
        if (!slot[i]) {
            printf("churn-fail live=%ld phase=setup at=%ld errno=%d\n", live, i, errno);
            return 2;
        }
        slot[i][0] = (char)n;
    }
    double t1 = now();
    printf("churn-setup live=%ld secs=%.3f\n", live, t1 - t0);

    long ops = 0;
    double t = t1, next_progress = t1 + 0.5, end = t1 + seconds;
    while (ops < max_ops) {
        long batch = max_ops - ops < 64 ? max_ops - ops : 64;
        for (long k = 0; k < batch; k++) {
            uint64_t r = rng();
            long i = (long)(r % (uint64_t)live);
            size_t n = 1 + (r >> 40) % 256;
            free(slot[i]);
            errno = 0;
            slot[i] = malloc(n);
            if (!slot[i]) {
                printf("churn-fail live=%ld phase=run at=%ld errno=%d\n", live, ops + k, errno);
                return 2;
            }
            slot[i][0] = (char)n;
        }
        ops += batch;
        t = now();
        if (t >= next_progress) {
            printf("churn-progress ops=%ld secs=%.3f\n", ops, t - t1);
            next_progress = t + 0.5;
        }
        if (t >= end) break;
    }
    printf("churn live=%ld ops=%ld secs=%.3f ops_per_s=%.0f\n", live, ops, t - t1,
           (double)ops / (t - t1));
    return 0;
}
