/* fork_altstack.c — fork from a process with threads whose alternate signal stack is malloc'd
 * (in the heap) and which has an fopen'd FILE (also in the heap).
 *
 * glibc's fork child resets the FILE's lock before any atfork handler runs. Under fork=copy the
 * child starts with no heap mapped and maps its copy at that first fault, so the fault's signal
 * frame needs a stack outside the heap. Prints what each side sees; exits 0 when the child
 * exited 0 and the parent's heap was not changed by it. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *idle(void *arg) { (void)arg; pause(); return NULL; }

/* Is the thread's signal stack its own again after the fork (MirrorGuard lends one meanwhile)? */
static const char *own_stack(const stack_t *ss)
{
    stack_t now;
    return sigaltstack(NULL, &now) == 0 && now.ss_sp == ss->ss_sp ? "own" : "NOT own";
}

int main(void)
{
    stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
    if (sigaltstack(&ss, NULL) != 0) { perror("sigaltstack"); return 1; }
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    FILE *f = fopen("/dev/null", "w");
    char *p = malloc(64);
    strcpy(p, "parent");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(p, "child");
        fprintf(f, "x");
        fclose(f);
        printf("child sees %s, %s signal stack\n", p, own_stack(&ss));
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    fprintf(f, "y");
    fclose(f);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(p, "parent") == 0;
    printf("parent sees %s, %s signal stack, child %s %d\n", p, own_stack(&ss), WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return ok ? 0 : 1;
}
