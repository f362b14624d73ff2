/* A program with its own SIGSEGV handler (a crash reporter), installed in main. `heap`: a heap
 * overflow is still reported by MirrorGuard first. `null`: its own crash reaches its handler. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_crash(int sig)
{
    static const char msg[] = "crash reporter caught signal\n";
    write(1, msg, sizeof msg - 1);
    _exit(sig == SIGSEGV ? 7 : 8);
}

__attribute__((noinline)) static int overflow_in_app(const int *p) { return p[4]; }
__attribute__((noinline)) static int null_in_app(volatile int *p) { return *p; }

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sigaction(SIGSEGV, &sa, NULL);
    int *p = malloc(4 * sizeof(int));
    if (argc > 1 && !strcmp(argv[1], "null")) return null_in_app(NULL);
    return overflow_in_app(p);
}
