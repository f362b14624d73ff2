/* A SIGALRM handler that writes to a heap object every 100 µs, while the main thread forks
 * (argv[1] = "fork", with a heap big enough for a lazy fork) or takes and releases snapshots
 * ("snapshot"). The heap is write-protected at those moments: the handler's write must wait and
 * land, never deadlock the thread that holds MirrorGuard's locks. */
#include <mirrorguard.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long *counter;
static void on_alarm(int sig) { (void)sig; (*counter)++; }

int main(int argc, char **argv)
{
    int forks = argc > 1 && strcmp(argv[1], "fork") == 0;
    counter = malloc(sizeof *counter);
    *counter = 0;
    char *heap[1500];
    for (int i = 0; i < 1500; i++) heap[i] = malloc(32);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL); /* a parent (a test runner) may have blocked it */
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    for (int i = 0; i < 200; i++) {
        if (forks) {
            pid_t p = fork();
            if (p == 0) _exit(0);
            heap[i][0] = 1;
            while (waitpid(p, NULL, 0) < 0) {}
        } else {
            mg_snapshot_t *s = mg_snapshot_take();
            heap[i][0] = 1;
            mg_snapshot_release(s);
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("200 %s, the handler ran %s\n", forks ? "forks" : "snapshots", *counter > 0 ? "and wrote" : "never");
    return 0;
}
