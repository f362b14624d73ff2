/* A program that installs its own SIGSEGV handler after MirrorGuard (a crash reporter).
 * `null`: its own fault reaches its handler. `heap`: an overflow is still reported by MirrorGuard. */
#include <mirrorguard.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void crash_reporter(int sig, siginfo_t *si, void *uc)
{
    (void)si; (void)uc;
    static const char msg[] = "crash reporter caught signal\n";
    write(1, msg, sizeof msg - 1);
    _exit(sig == SIGSEGV ? 7 : 8);
}

__attribute__((noinline)) static int deref_null(volatile int *p) { return *p; }
__attribute__((noinline)) static char overflow(const char *p) { return p[64]; }

int main(int argc, char **argv)
{
    const char *obj = mg_alloc(64); /* MirrorGuard is up before the handler goes in */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = crash_reporter;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, &old);
    printf("previous handler was %s\n", old.sa_handler == SIG_DFL ? "default" : "something else");
    fflush(stdout);
    if (argc > 1 && !strcmp(argv[1], "heap")) return overflow(obj);
    return deref_null(NULL);
}
