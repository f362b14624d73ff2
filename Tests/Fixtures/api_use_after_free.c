/* Reading an mg_alloc object after mg_free: heap-use-after-free in read_after_free. */
#include <mirrorguard.h>
#include <stdio.h>

__attribute__((noinline)) static long *make_counter(void)
{
    long *c = mg_unprotect(mg_alloc(sizeof *c));
    *c = 42;
    return (long *)mg_protect(c);
}

__attribute__((noinline)) static void release(long *c) { mg_free(c); }

__attribute__((noinline)) static long read_after_free(const long *c) { return *c; }

int main(void)
{
    long *c = make_counter();
    release(c);
    printf("%ld\n", read_after_free(c));
    return 0;
}
