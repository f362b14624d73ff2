/* fork while another thread is inside a write section: the child, which has no such thread,
 * must still be able to enter its own. */
#include <mirrorguard.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static const long *obj;

static void *writer(void *arg)
{
    (void)arg;
    long *w = mg_unprotect(obj);
    *w = 1;
    sleep(1);
    mg_protect(w);
    return NULL;
}

int main(void)
{
    obj = mg_alloc(sizeof *obj);
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    usleep(200000); /* the writer is inside its section */
    pid_t pid = fork();
    if (pid == 0) {
        alarm(5);
        long *w = mg_unprotect(obj);
        *w = 2;
        mg_protect(w);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    pthread_join(t, NULL);
    printf("child %s, parent sees %ld\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "entered its section" : "stuck", *obj);
    return 0;
}
