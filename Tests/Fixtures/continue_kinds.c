/* One store instruction, three different bugs (on_error=continue): underflow, overflow and use
 * after free at the same pc must each be reported, not folded into one. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void store(char *p, long i) { p[i] = 1; }

int main(void)
{
    char *a = malloc(4096), *b = malloc(4096), *c = malloc(64);
    store(a, -1);   /* the guard before a */
    store(b, 4096); /* the guard after b */
    free(c);
    store(c, 0);    /* freed */
    printf("done\n");
    return 0;
}
