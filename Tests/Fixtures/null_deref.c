/* A fault that is not MirrorGuard's, with no handler of the program's: it must die of SIGSEGV
 * exactly as it would without the library. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static int deref(volatile int *p) { return *p; }

int main(void)
{
    free(malloc(16));
    printf("before\n");
    fflush(stdout);
    return deref(NULL);
}
