/* strcpy and memcpy past the end of a buffer: the fault is inside libc, and the report's
 * next frame is the function that called it (copy_name / copy_block). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void copy_name(char *dst) { strcpy(dst, "a name much longer than sixteen bytes"); }
__attribute__((noinline)) static void copy_block(char *dst, const char *src) { memcpy(dst, src, 64); }

int main(int argc, char **argv)
{
    char *dst = malloc(16);
    static char src[64];
    if (argc > 1 && !strcmp(argv[1], "memcpy")) copy_block(dst, src);
    else copy_name(dst);
    printf("%s\n", dst);
    return 0;
}
