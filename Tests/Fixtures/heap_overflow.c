/* Overflows of a malloc'd object: `write`/`read` touch the byte just past the end, `far` one
 * 3000 bytes past it. heap-buffer-overflow in overflow_write / overflow_read / overflow_far. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void overflow_write(char *p, size_t n) { p[n] = 'x'; }
__attribute__((noinline)) static int overflow_read(const char *p, size_t n) { return p[n]; }
__attribute__((noinline)) static int overflow_far(const char *p, size_t n) { return p[n + 3000]; }

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "write";
    char *p = malloc(32);
    memset(p, 0, 32);
    if (!strcmp(what, "write")) overflow_write(p, 32);
    else if (!strcmp(what, "read")) printf("%d\n", overflow_read(p, 32));
    else printf("%d\n", overflow_far(p, 32));
    free(p);
    return 0;
}
