/* double: free twice (double-free in free_again). stack: free of a stack address, interior:
 * free of a pointer into an object (invalid-free in free_stack / free_interior). */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static char *make_buffer(void) { return malloc(64); }
__attribute__((noinline)) static void free_once(char *p) { free(p); }
__attribute__((noinline)) static void free_again(char *p) { free(p); }
__attribute__((noinline)) static void free_interior(char *p) { free(p + 16); }
__attribute__((noinline)) static void free_stack(void)
{
    char on_stack[32];
    free(on_stack);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "double";
    char *p = make_buffer();
    if (!strcmp(what, "double")) { free_once(p); free_again(p); }
    else if (!strcmp(what, "interior")) free_interior(p);
    else free_stack();
    return 0;
}
