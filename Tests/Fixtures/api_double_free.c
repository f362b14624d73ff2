/* mg_free twice (double-free in free_again), or of an address that is no object (invalid-free). */
#include <mirrorguard.h>
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) static char *make_name(void) { return mg_alloc(32); }
__attribute__((noinline)) static void free_once(char *p) { mg_free(p); }
__attribute__((noinline)) static void free_again(char *p) { mg_free(p); }
__attribute__((noinline)) static void free_interior(char *p) { mg_free(p + 8); }
__attribute__((noinline)) static void free_stack(void)
{
    char local[16];
    mg_free(local);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "double";
    char *p = make_name();
    if (!strcmp(what, "double")) {
        free_once(p);
        free_again(p);
    } else if (!strcmp(what, "interior")) {
        free_interior(p);
    } else {
        free_stack();
    }
    printf("after the bad free\n");
    return 0;
}
