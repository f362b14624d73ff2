/* on_error=continue: one 16-byte SSE store through the read-only view that starts inside a
 * 32-byte object and runs 8 bytes into the guard page after it. It is two bugs in one
 * instruction: a stray write (read-only view) and an overflow. Both must be reported, the
 * overflow at the address the program used, and the store must complete. */
#include <emmintrin.h>
#include <mirrorguard.h>
#include <stdio.h>

__attribute__((noinline)) static void straddle(char *p) { _mm_storeu_si128((__m128i *)(p + 24), _mm_set1_epi8(7)); }

int main(void)
{
    char *p = mg_alloc(32);
    straddle(p);
    printf("p[24..31] %s\n", p[24] == 7 && p[31] == 7 ? "written" : "not written");
    return 0;
}
