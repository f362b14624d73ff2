/* Reading or writing a malloc'd object after free: heap-use-after-free in read_stale /
 * write_stale, allocated in make_record, freed in drop_record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct record { int id; char name[28]; };

__attribute__((noinline)) static struct record *make_record(void)
{
    struct record *r = malloc(sizeof *r);
    r->id = 7;
    strcpy(r->name, "seven");
    return r;
}
__attribute__((noinline)) static void drop_record(struct record *r) { free(r); }
__attribute__((noinline)) static int read_stale(const struct record *r) { return r->id; }
__attribute__((noinline)) static void write_stale(struct record *r) { r->id = 8; }

int main(int argc, char **argv)
{
    struct record *r = make_record();
    drop_record(r);
    if (argc > 1 && !strcmp(argv[1], "write")) write_stale(r);
    else printf("%d\n", read_stale(r));
    return 0;
}
