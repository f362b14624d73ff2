/* Every size from 0 to 20,000 bytes (and some large ones), every alignment up to a page: each
 * object is aligned, writable through its usable size, and keeps its contents through realloc
 * growing and shrinking. calloc memory is zero even when its address space was reused. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { printf(__VA_ARGS__); printf("\n"); return 1; } while (0)

int main(void)
{
    for (size_t n = 0; n <= 20000; n += (n < 300 ? 1 : 97)) {
        unsigned char *p = malloc(n);
        if (!p) FAIL("malloc(%zu) = NULL", n);
        if ((uintptr_t)p % 16) FAIL("malloc(%zu) misaligned", n);
        size_t usable = malloc_usable_size(p);
        if (usable < n) FAIL("usable %zu < %zu", usable, n);
        memset(p, 0xab, usable);
        unsigned char *q = realloc(p, n * 2 + 1);
        for (size_t i = 0; i < n; i++) if (q[i] != 0xab) FAIL("realloc grow lost byte %zu of %zu", i, n);
        q = realloc(q, n / 2 + 1);
        for (size_t i = 0; i < n / 2 + 1 && i < n; i++) if (q[i] != 0xab) FAIL("realloc shrink lost byte %zu", i);
        free(q);
    }
    for (size_t a = 1; a <= 4096; a *= 2) {
        for (size_t n = 1; n < 3 * 4096; n = n * 3 + 1) {
            void *p = NULL;
            if (a >= sizeof(void *)) {
                if (posix_memalign(&p, a, n) != 0 || (uintptr_t)p % a) FAIL("posix_memalign(%zu, %zu)", a, n);
                memset(p, 1, n);
                free(p);
            }
            p = aligned_alloc(a, n);
            if (!p || (uintptr_t)p % a) FAIL("aligned_alloc(%zu, %zu)", a, n);
            memset(p, 2, n);
            free(p);
        }
    }
    for (int round = 0; round < 200; round++) {
        unsigned char *p = calloc(1000, 1);
        for (int i = 0; i < 1000; i++) if (p[i]) FAIL("calloc memory not zero at %d (round %d)", i, round);
        memset(p, 0xff, 1000);
        free(p);
    }
    size_t big[] = {1 << 16, 1 << 20, 5 << 20};
    for (int i = 0; i < 3; i++) {
        unsigned char *p = malloc(big[i]);
        p[0] = 1;
        p[big[i] - 1] = 2;
        if (p[0] + p[big[i] - 1] != 3) FAIL("big");
        free(p);
    }
    printf("sizes ok\n");
    return 0;
}
