/* on_error=continue with N threads (argv[1]) each doing thousands (argv[2] rounds) of stray
 * writes into ONE shared page, by every kind of instruction that writes memory: a plain MOV,
 * SSE, AVX2 and AVX-512 stores (where the CPU has them), a non-atomic read-modify-write, a
 * lock-prefixed atomic add on a counter all threads share, rep stosb and rep movsq. Each write
 * is read back at once; the shared counter must end at threads * rounds (no update lost, the
 * atomic stayed atomic). Prints the sites it used, so the test knows which frames to expect. */
#include <immintrin.h>
#include <mirrorguard.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *page;            /* the read-only view of one 4096-byte object */
static long rounds;
static _Atomic long lost;
static int have_avx2, have_avx512;

__attribute__((noinline)) static void store_mov(long *p, long v) { *(volatile long *)p = v; }
__attribute__((noinline)) static void store_sse(long *p, long v) { _mm_storeu_si128((__m128i *)p, _mm_set1_epi64x(v)); }
__attribute__((noinline, target("avx2"))) static void store_avx(long *p, long v)
{
    _mm256_storeu_si256((__m256i *)p, _mm256_set1_epi64x(v));
}
__attribute__((noinline, target("avx512f"))) static void store_avx512(long *p, long v)
{
    _mm512_storeu_si512((void *)p, _mm512_set1_epi64(v));
}
__attribute__((noinline)) static void add_rmw(long *p, long v) { __asm__ volatile("addq %1, (%0)" : : "r"(p), "r"(v) : "memory"); }
__attribute__((noinline)) static void add_atomic(long *p) { __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }
__attribute__((noinline)) static void fill_rep(char *p, int byte, size_t n)
{
    __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(byte) : "memory");
}
__attribute__((noinline)) static void copy_rep(long *dst, const long *src, size_t n)
{
    __asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static int same(const long *p, long v, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

static void *worker(void *arg)
{
    long t = (long)arg;
    char *r = page + t * 256;  /* this thread's 256 bytes of the shared page */
    long *counter = (long *)(page + 4096 - 8);
    long src[8];
    for (long k = 0; k < rounds; k++) {
        store_mov((long *)r, k * 16 + t);
        if (*(long *)r != k * 16 + t) lost++;
        store_sse((long *)(r + 16), k ^ t);
        if (!same((long *)(r + 16), k ^ t, 2)) lost++;
        if (have_avx2) {
            store_avx((long *)(r + 32), k + 1);
            if (!same((long *)(r + 32), k + 1, 4)) lost++;
        }
        if (have_avx512) {
            store_avx512((long *)(r + 64), k + 2);
            if (!same((long *)(r + 64), k + 2, 8)) lost++;
        }
        add_rmw((long *)(r + 128), 1);
        if (*(long *)(r + 128) != k + 1) lost++;
        add_atomic(counter);
        fill_rep(r + 136, (int)(k & 0x7f), 48);
        for (int i = 0; i < 48; i++) if (r[136 + i] != (char)(k & 0x7f)) { lost++; break; }
        for (int i = 0; i < 8; i++) src[i] = k * 8 + i;
        copy_rep((long *)(r + 192), src, 8);
        if (memcmp(r + 192, src, sizeof src) != 0) lost++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = argc > 1 ? atol(argv[1]) : 2;
    rounds = argc > 2 ? atol(argv[2]) : 2000;
    if (threads < 1 || threads > 15) return 2;
    have_avx2 = __builtin_cpu_supports("avx2");
    have_avx512 = __builtin_cpu_supports("avx512f");
    page = mg_alloc(4096);
    pthread_t t[15];
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
    printf("sites: store_mov store_sse%s%s add_rmw add_atomic fill_rep copy_rep\n",
           have_avx2 ? " store_avx" : "", have_avx512 ? " store_avx512" : "");
    printf("%ld threads, %ld rounds, lost %ld, counter %ld of %ld\n", threads, rounds, (long)lost,
           *(long *)(page + 4096 - 8), threads * rounds);
    return 0;
}
