/* Writing one byte before a malloc'd object (near) or a page before it (far).
 * near + protect_below=1: heap-buffer-underflow in underflow_near at once; near by default: found
 * at free by the canary (in release); far by default: the previous slot's guard page. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void underflow_near(char *p) { p[-1] = 1; }
__attribute__((noinline)) static void underflow_far(char *p) { p[-4096] = 1; }
__attribute__((noinline)) static void release(char *p) { free(p); }

int main(int argc, char **argv)
{
    char *p = malloc(100);
    if (argc > 1 && !strcmp(argv[1], "far")) underflow_far(p);
    else underflow_near(p);
    release(p);
    return 0;
}
