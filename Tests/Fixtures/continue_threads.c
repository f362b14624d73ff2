/* on_error=continue with N threads (argv[1]) each doing thousands of stray writes (argv[2])
 * from two sites, store_a and store_b, into one shared page. Every write must land (each is
 * read back at once) and the program must run to the end. */
#include <mirrorguard.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile long *obj;
static long iterations;
static _Atomic long lost;

__attribute__((noinline)) static void store_a(volatile long *p, long v) { *p = v; }
__attribute__((noinline)) static void store_b(volatile long *p, long v) { *p = v; }

static void *worker(void *arg)
{
    long t = (long)arg;
    for (long k = 0; k < iterations; k++) {
        store_a(&obj[2 * t], k);
        store_b(&obj[2 * t + 1], -k);
        if (obj[2 * t] != k || obj[2 * t + 1] != -k) lost++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = argc > 1 ? atol(argv[1]) : 2;
    iterations = argc > 2 ? atol(argv[2]) : 5000;
    obj = mg_alloc(2 * sizeof(long) * (size_t)threads); /* all on one page */
    pthread_t t[16];
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
    long wrong = 0;
    for (long i = 0; i < threads; i++)
        wrong += obj[2 * i] != iterations - 1 || obj[2 * i + 1] != -(iterations - 1);
    printf("%ld threads, %ld writes each, lost %ld, wrong %ld\n", threads, 2 * iterations, (long)lost, wrong);
    return 0;
}
