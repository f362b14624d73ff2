/* Using a pointer that realloc moved: heap-use-after-free in use_old_pointer, freed by realloc
 * called from grow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static char *grow(char *p) { return realloc(p, 4096); }
__attribute__((noinline)) static char use_old_pointer(const char *old) { return old[0]; }

int main(void)
{
    char *p = malloc(16);
    strcpy(p, "hello");
    char *q = grow(p);
    printf("%s %c\n", q, use_old_pointer(p));
    return 0;
}
