/* Reading one element past the end of an mg_alloc array: heap-buffer-overflow in read_past_end. */
#include <mirrorguard.h>
#include <stdio.h>

__attribute__((noinline)) static int *make_table(int n)
{
    return mg_alloc(sizeof(int) * (size_t)n);
}

__attribute__((noinline)) static int read_past_end(const int *t, int n)
{
    int sum = 0;
    for (int i = 0; i <= n; i++) sum += t[i]; /* the bug: <= */
    return sum;
}

int main(void)
{
    int *t = make_table(8);
    printf("sum %d\n", read_past_end(t, 8));
    return 0;
}
