/* Overflow of a three-and-a-bit-page object: the guard after its last page. */
#include <stdlib.h>
#include <string.h>

#define SIZE (3 * 4096 + 100)

__attribute__((noinline)) static void fill_table(unsigned char *t)
{
    /* The bug: one row of 64 too many. (A 1-byte overrun would land in the 16-byte alignment
     * padding and be found at free instead; see odd_overflow.c.) */
    for (size_t i = 0; i < SIZE + 64; i++) t[i] = (unsigned char)i;
}

int main(void)
{
    unsigned char *t = malloc(SIZE);
    fill_table(t);
    free(t);
    return 0;
}
