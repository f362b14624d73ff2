/* A write through the read-only view of an mg_alloc object: stray-write in write_through_ro. */
#include <mirrorguard.h>
#include <stdio.h>

struct account { long balance; char owner[24]; };

__attribute__((noinline)) static struct account *make_account(void)
{
    struct account *a = mg_unprotect(mg_alloc(sizeof *a));
    a->balance = 100;
    return (struct account *)mg_protect(a);
}

__attribute__((noinline)) static void write_through_ro(struct account *a)
{
    a->balance = 0; /* the bug: a is the read-only view */
}

int main(void)
{
    struct account *a = make_account();
    printf("balance %ld\n", a->balance);
    fflush(stdout);
    write_through_ro(a);
    printf("not reached\n");
    return 0;
}
