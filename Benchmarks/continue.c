/* continue.c — the cost of one logged-and-continued stray write (on_error=continue).
 *
 * Writes N times through a read-only pointer from one site: the first is reported, the rest are
 * counted, and every one traps and is let through. The kinds of write:
 *   store   a plain 8-byte MOV store (emulated by the handler)
 *   vector  a 16-byte SSE store (run once against the writable alias: rebased and trapped)
 *   atomic  a lock-prefixed add (rebased, like vector)
 *   string  rep stosb of 64 bytes (emulated through process_vm_writev)
 * Prints microseconds per write:
 *   continue <kind> <us-per-write>
 * Run with MIRRORGUARD_OPTIONS=on_error=continue (and continue_method=step for the fallback).
 */
#include <emmintrin.h>
#include <string.h>
#include <mirrorguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) static void stray(volatile long *p, long v) { *p = v; }
__attribute__((noinline)) static void stray_vector(long *p, long v) { _mm_storeu_si128((__m128i *)p, _mm_set1_epi64x(v)); }
__attribute__((noinline)) static void stray_atomic(long *p, long v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
__attribute__((noinline)) static void stray_string(char *p, long v)
{
    size_t n = 64;
    __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(v) : "memory");
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    const char *kind = argc > 2 ? argv[2] : "store";
    long *p = mg_alloc(64);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (strcmp(kind, "vector") == 0) for (long i = 0; i < n; i++) stray_vector(p, i);
    else if (strcmp(kind, "atomic") == 0) for (long i = 0; i < n; i++) stray_atomic(p, 1);
    else if (strcmp(kind, "string") == 0) for (long i = 0; i < n; i++) stray_string((char *)p, i & 0x7f);
    else for (long i = 0; i < n; i++) stray(p, i);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / (double)n;
    printf("continue %s %.2f\n", kind, us);
    /* Every write must have landed. */
    long want = strcmp(kind, "atomic") == 0 ? n : strcmp(kind, "string") == 0 ? 0x0101010101010101L * ((n - 1) & 0x7f) : n - 1;
    return p[0] == want ? 0 : 1;
}
