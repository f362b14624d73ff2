/* Overflow of a 64-byte-aligned allocation (posix_memalign): heap-buffer-overflow in scale. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void scale(double *v, int n)
{
    for (int i = 0; i < n + 16; i++) v[i] *= 2.0; /* the bug: runs 16 elements too far */
}

int main(void)
{
    double *v;
    if (posix_memalign((void **)&v, 64, 100 * sizeof *v) != 0) return 1;
    printf("aligned %d\n", (int)((unsigned long)v % 64 == 0));
    fflush(stdout);
    scale(v, 100);
    free(v);
    return 0;
}
