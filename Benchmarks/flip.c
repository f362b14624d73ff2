/* flip.c — the cost of opening and closing a write section.
 *
 * MirrorGuard: mg_unprotect + one store + mg_protect on an arena object (pointer arithmetic under
 * a mutex). Classic: mprotect(RW) + one store + mprotect(RO) on one page, what a tool without
 * mirrored views must do. Prints nanoseconds per pair for 1 and 2 threads, one line each:
 *   flip <method> <threads> <ns-per-pair>
 */
#include <mirrorguard.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long iterations;
static const long *object;
static char *pages; /* one page per thread: mprotect is process-wide, so threads sharing a page would race */

static void *mirror_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        long *w = mg_unprotect(object);
        (*w)++;
        mg_protect(w);
    }
    return NULL;
}

static void *mprotect_worker(void *arg)
{
    char *page = pages + 4096 * (long)arg;
    for (long i = 0; i < iterations; i++) {
        mprotect(page, 4096, PROT_READ | PROT_WRITE);
        page[0]++;
        mprotect(page, 4096, PROT_READ);
    }
    return NULL;
}

static double measure(void *(*fn)(void *), int threads)
{
    pthread_t t[8];
    double start = now();
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, fn, (void *)i);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return (now() - start) / (double)(iterations * threads);
}

int main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 1;
    object = mg_alloc(sizeof(long));
    pages = mmap(NULL, 4096 * 8, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int threads = 1; threads <= 2; threads++) {
        iterations = 5000000 * scale;
        printf("flip mirror %d %.1f\n", threads, measure(mirror_worker, threads));
        iterations = 100000 * scale;
        printf("flip mprotect %d %.1f\n", threads, measure(mprotect_worker, threads));
    }
    return (*object == 5000000 * scale * 3) ? 0 : 1;
}
