/* on_error=continue: a thread that blocks SIGTRAP makes stray writes that need a single step (a
 * lock add, rebased; under continue_method=step, a plain store too). The step's trap must not
 * kill the process, the writes must land, and the thread's mask must be as it set it. */
#include <mirrorguard.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static long *ro;

__attribute__((noinline)) static void bump(long *p) { __atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST); }

static void *worker(void *arg)
{
    (void)arg;
    sigset_t trap, now;
    sigemptyset(&trap);
    sigaddset(&trap, SIGTRAP);
    pthread_sigmask(SIG_BLOCK, &trap, NULL);
    for (int i = 0; i < 100; i++) bump(ro);
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    return (void *)(long)sigismember(&now, SIGTRAP);
}

int main(void)
{
    ro = mg_alloc(sizeof *ro);
    pthread_t t;
    void *still_blocked;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, &still_blocked);
    printf("value %ld, SIGTRAP still blocked: %s\n", *ro, still_blocked ? "yes" : "no");
    return 0;
}
