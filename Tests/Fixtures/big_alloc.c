/* One 512 MiB allocation: every MiB of it writable and kept. */
#include <stdio.h>
#include <stdlib.h>

#define SIZE ((size_t)512 << 20)

int main(void)
{
    unsigned char *p = malloc(SIZE);
    if (!p) { printf("NULL\n"); return 1; }
    for (size_t i = 0; i < SIZE; i += 1 << 20) p[i] = (unsigned char)(i >> 20);
    p[SIZE - 1] = 0x5a;
    for (size_t i = 0; i < SIZE; i += 1 << 20) if (p[i] != (unsigned char)(i >> 20)) { printf("lost\n"); return 1; }
    printf("512 MiB ok %x\n", p[SIZE - 1]);
    free(p);
    return 0;
}
