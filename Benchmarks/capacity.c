/* capacity.c — how many small objects can be live at once.
 *
 *   capacity [MAX]        (MAX defaults to 1,000,000)
 *
 * mallocs 16-byte objects (writing the first byte of each) and keeps them all live, until malloc
 * returns NULL or MAX objects are live. The pointer table is mmap'ed, not malloc'ed. Every 1000
 * objects it prints `capacity-progress live=N` (flushed), so when the allocator kills the process
 * (Electric Fence and DUMA abort when mprotect fails) the harness still knows how far it got.
 *
 * Output (stdout):
 *   capacity-progress live=N secs=S    every 1000 objects
 *   capacity live=N reason=max|null errno=E secs=S
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long max = argc > 1 ? atol(argv[1]) : 1000000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char **obj = mmap(NULL, (size_t)max * sizeof *obj, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (obj == MAP_FAILED) return 70;
    double t0 = now();
    long n = 0;
    const char *reason = "max";
    int err = 0;
    while (n < max) {
        errno = 0;
        char *p = malloc(16);
        if (!p) {
            reason = "null";
            err = errno;
            break;
        }
        p[0] = 1;
        obj[n++] = p;
        if (n % 1000 == 0) printf("capacity-progress live=%ld secs=%.3f\n", n, now() - t0);
    }
    printf("capacity live=%ld reason=%s errno=%d secs=%.3f\n", n, reason, err, now() - t0);
    return 0;
}
