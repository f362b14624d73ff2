/* on_error=continue: stray writes by instructions whose address register is also their data
 * (`add [rax], rax`, `xchg [rax], rax`, `lock cmpxchg [rax], rcx` whose comparand is RAX,
 * `xchg [rcx], ch` whose byte register is part of RCX).
 * Moving that register to the writable view would change what they compute, so continue mode
 * must let them through another way; each result must be what the CPU computes with the
 * program's own registers. */
#include <mirrorguard.h>
#include <stdio.h>

__attribute__((noinline)) static void add_self(long *p) { __asm__ volatile("addq %0, (%0)" : : "r"(p) : "memory"); }
__attribute__((noinline)) static long xchg_self(long *p)
{
    long r = (long)p;
    __asm__ volatile("xchgq %0, (%0)" : "+r"(r) : : "memory");
    return r;
}
__attribute__((noinline)) static long cmpxchg_self(long *p, long desired)
{
    long rax = (long)p; /* RAX holds both the address and the comparand */
    __asm__ volatile("lock cmpxchgq %1, (%%rax)" : "+a"(rax) : "r"(desired) : "memory", "cc");
    return rax;
}

__attribute__((noinline)) static long xchg_high(char *p)
{
    long rcx = (long)p;
    __asm__ volatile("xchgb %%ch, (%%rcx)" : "+c"(rcx) : : "memory");
    return rcx;
}

int main(void)
{
    long *p = mg_alloc(3 * sizeof(long));
    long *w = mg_rw(p);
    w[0] = 5;
    add_self(&p[0]);
    int ok_add = p[0] == 5 + (long)&p[0];
    w[1] = 9;
    long old = xchg_self(&p[1]);
    int ok_xchg = old == 9 && p[1] == (long)&p[1];
    w[2] = (long)&p[2];
    cmpxchg_self(&p[2], 42);
    int ok_cmpxchg = p[2] == 42;
    char *b = mg_alloc(1);
    *(char *)mg_rw(b) = 0x5a;
    long before = (long)b, after = xchg_high(b);
    int ok_high = *b == (char)((before >> 8) & 0xff) && after == ((before & ~0xff00L) | 0x5a00L);
    printf("add %s, xchg %s, cmpxchg %s, high byte %s\n", ok_add ? "ok" : "WRONG", ok_xchg ? "ok" : "WRONG",
           ok_cmpxchg ? "ok" : "WRONG", ok_high ? "ok" : "WRONG");
    return 0;
}
