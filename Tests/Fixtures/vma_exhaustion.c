/* guard=mprotect runs out of mappings; after some frees, an object allocated then must still
 * have its guard: overflow_after_exhaustion's write past the end is reported. */
#include <stdio.h>
#include <stdlib.h>

static void *objs[100000];

__attribute__((noinline)) static void overflow_after_exhaustion(char *p) { p[4000 + 100] = 'Y'; }

int main(void)
{
    int n = 0;
    while (n < 100000 && (objs[n] = malloc(4000)) != NULL) n++;
    printf("ran out: %s\n", n > 1000 && n < 100000 ? "yes" : "no");
    fflush(stdout);
    for (int i = 0; i < 200; i++) free(objs[i]);
    char *p = malloc(4000);
    if (!p) return 2;
    overflow_after_exhaustion(p);
    printf("overflow not detected\n");
    return 1;
}
