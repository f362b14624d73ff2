/* The arena grows past 1 GiB without moving any object: pointers and contents stay. */
#include <mirrorguard.h>
#include <stdio.h>

#define N 1200
#define MIB ((size_t)1 << 20)

int main(void)
{
    static const unsigned char *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = mg_alloc(MIB);
        if (!objs[i]) { printf("allocation %d failed\n", i); return 1; }
        unsigned char *w = mg_unprotect(objs[i]);
        w[0] = (unsigned char)i;
        w[MIB - 1] = (unsigned char)(i * 7);
        mg_protect(w);
    }
    for (int i = 0; i < N; i++) {
        if (objs[i][0] != (unsigned char)i || objs[i][MIB - 1] != (unsigned char)(i * 7)) {
            printf("object %d changed\n", i);
            return 1;
        }
    }
    printf("arena over 1 GiB: %s, live %zu\n", mg_arena_size() > ((size_t)1 << 30) ? "yes" : "no", mg_live_objects());
    return 0;
}
