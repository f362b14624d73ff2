/* A program's SIGSEGV handler installed with SA_RESETHAND: chained through MirrorGuard it must
 * run once, be reset, and let the re-executed fault kill the process, as without MirrorGuard. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int calls;

static void once(int sig)
{
    (void)sig;
    if (++calls > 1) {
        write(1, "handler ran again: SA_RESETHAND ignored\n", 40);
        _exit(3);
    }
    write(1, "handler\n", 8);
}

int main(void)
{
    free(malloc(8)); /* MirrorGuard is up */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = once;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    *(volatile int *)8 = 1;
    puts("not reached");
    return 0;
}
