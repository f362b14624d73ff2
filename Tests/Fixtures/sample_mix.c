/* Under mode=sample some objects are guarded and most are glibc's: free, realloc,
 * malloc_usable_size, calloc and the aligned calls must tell them apart by address, growing and
 * shrinking objects across the two allocators. Prints how many objects ended in the arena. */
#include <malloc.h>
#include <mirrorguard.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 20000

int main(void)
{
    static unsigned char *objs[N];
    static size_t sizes[N];
    int guarded = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        sizes[i] = 1 + (size_t)(i * 37) % 500;
        objs[i] = (i % 3 == 0) ? calloc(1, sizes[i]) : malloc(sizes[i]);
        if (malloc_usable_size(objs[i]) < sizes[i]) bad++;
        memset(objs[i], i & 0xff, sizes[i]);
        guarded += mg_ro(objs[i]) != NULL;
    }
    for (int i = 0; i < N; i += 2) {
        size_t grown = sizes[i] * 3 + 7;
        objs[i] = realloc(objs[i], grown);
        for (size_t k = 0; k < sizes[i]; k++) if (objs[i][k] != (unsigned char)(i & 0xff)) { bad++; break; }
        memset(objs[i], i & 0xff, grown);
        sizes[i] = grown;
    }
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < sizes[i]; k++) if (objs[i][k] != (unsigned char)(i & 0xff)) { bad++; break; }
        free(objs[i]);
    }
    for (size_t a = 16; a <= 4096; a *= 2) {
        void *p = NULL;
        if (posix_memalign(&p, a, 100) || (uintptr_t)p % a) bad++;
        free(p);
        p = aligned_alloc(a, a);
        if ((uintptr_t)p % a) bad++;
        free(p);
    }
    printf("bad %d, some guarded %s, most not %s\n", bad, guarded > 0 ? "yes" : "no", guarded < N / 2 ? "yes" : "no");
    return bad != 0;
}
