/* Reading far past the end of the arena file, inside the reserved view: arena-bus-error. */
#include <mirrorguard.h>
#include <stdio.h>

__attribute__((noinline)) static char read_beyond_file(const char *p)
{
    return p[(size_t)8 << 30]; /* 8 GiB further: reserved, but past the end of the file */
}

int main(void)
{
    const char *p = mg_alloc(16);
    printf("%d\n", read_beyond_file(p));
    return 0;
}
