/* continue.c — the cost of one logged-and-continued stray write (on_error=continue).
 *
 * Writes N times through a read-only pointer from one site: the first is reported, the rest are
 * counted, and every one traps and is let through. `store` uses a plain 8-byte store (emulated
 * by the handler); `vector` a 16-byte SSE store (single-stepped). Prints microseconds per write:
 *   continue <kind> <us-per-write>
 * Run with MIRRORGUARD_OPTIONS=on_error=continue.
 */
#include <emmintrin.h>
#include <string.h>
#include <mirrorguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) static void stray(volatile long *p, long v) { *p = v; }
__attribute__((noinline)) static void stray_vector(long *p, long v) { _mm_storeu_si128((__m128i *)p, _mm_set1_epi64x(v)); }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    const char *method = argc > 2 ? argv[2] : "store";
    int vector = strcmp(method, "vector") == 0;
    volatile long *p = mg_alloc(2 * sizeof(long));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (vector) stray_vector((long *)p, i);
        else stray(p, i);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / (double)n;
    printf("continue %s %.2f\n", method, us);
    return *p == n - 1 ? 0 : 1;
}
