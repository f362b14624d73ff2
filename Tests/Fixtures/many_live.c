/* N live small objects at once (default 200,000; an argument sets N): each keeps its contents. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    long **objs = malloc(sizeof *objs * (size_t)n);
    for (long i = 0; i < n; i++) {
        objs[i] = malloc(16);
        if (!objs[i]) { printf("malloc failed at %ld\n", i); return 1; }
        objs[i][0] = i;
        objs[i][1] = ~i;
    }
    for (long i = 0; i < n; i++)
        if (objs[i][0] != i || objs[i][1] != ~i) { printf("object %ld changed\n", i); return 1; }
    for (long i = 0; i < n; i++) free(objs[i]);
    free(objs);
    printf("%ld live objects ok\n", n);
    return 0;
}
