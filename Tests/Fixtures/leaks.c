/* Leaks at exit (detect_leaks=1): three 40-byte buffers from leak_buffers (direct), a list
 * whose head leaks from build_list (one direct, four indirect); objects still reachable from a
 * global are not leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char payload[24]; };
static char *still_reachable;

__attribute__((noinline)) static void leak_buffers(void)
{
    for (int i = 0; i < 3; i++) {
        char *p = malloc(40);
        memset(p, 0, 40);
    }
}

__attribute__((noinline)) static void build_list(int n)
{
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *x = malloc(sizeof *x);
        x->next = head;
        head = x;
    }
}

int main(void)
{
    still_reachable = malloc(100);
    leak_buffers();
    build_list(5);
    printf("done\n");
    return 0;
}
