/* A SIGALRM handler that writes to a heap object every 100 µs, while the main thread forks
 * (argv[1] = "fork", with a heap big enough for a lazy fork) or takes and releases snapshots
 * ("snapshot"). The heap is write-protected at those moments: the handler's write must wait and
 * land, never deadlock the thread that holds MirrorGuard's locks. The handler also counts its
 * runs outside the heap, so a write that was lost shows.
 *
 * argv[2] = "kill-fpe": the signal is a SIGFPE sent to the whole process with kill(2) by a thread
 * that blocks it, so any thread that does not block it may run the handler, MirrorGuard's own
 * included (a fault signal that MirrorGuard left unblocked deadlocked there). */
#include <pthread.h>
#include <mirrorguard.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long *counter;
static volatile sig_atomic_t calls;
static void on_alarm(int sig) { (void)sig; (*counter)++; calls++; }
static volatile int done;

static void *sender(void *arg)
{
    (void)arg;
    sigset_t fpe;
    sigemptyset(&fpe);
    sigaddset(&fpe, SIGFPE);
    pthread_sigmask(SIG_BLOCK, &fpe, NULL);
    while (!done) {
        kill(getpid(), SIGFPE);
        usleep(100);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int forks = argc > 1 && strcmp(argv[1], "fork") == 0;
    counter = malloc(sizeof *counter);
    *counter = 0;
    char *heap[1500];
    for (int i = 0; i < 1500; i++) heap[i] = malloc(32);
    int by_kill = argc > 2 && strcmp(argv[2], "kill-fpe") == 0;
    int sig = by_kill ? SIGFPE : SIGALRM;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL); /* a parent (a test runner) may have blocked it */
    pthread_t t;
    if (by_kill) {
        pthread_create(&t, NULL, sender, NULL);
    } else {
        struct itimerval it = {{0, 100}, {0, 100}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
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
    if (by_kill) {
        done = 1;
        pthread_join(t, NULL);
    } else {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
    }
    /* Every run of the handler wrote the heap once: a write that was lost would show here. */
    printf("200 %s, the handler ran %s, every write landed: %s\n", forks ? "forks" : "snapshots",
           calls > 0 ? "and wrote" : "never", *counter == calls ? "yes" : "no");
    if (!forks) printf("snapshots by %s\n", mg_snapshot_method());
    return 0;
}
