/* fork_heap_stack.c — fork() from a thread whose stack is a heap object (pthread_attr_setstack
 * with malloc'd memory, as coroutine libraries do).
 *
 * The child's copy of the heap is taken before the fork, so the stack in it is stale: the child
 * cannot run. What must hold is the parent: it never hangs, and its stack and heap are never
 * written by the child. Prints the parent's view and how the child ended. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *shared;

static void *forker(void *arg)
{
    (void)arg;
    volatile int mark = 42;
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(shared, "child");
        _exit(7);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("parent: pid %s, mark %d, heap %s, child %s\n", pid > 0 ? "ok" : "WRONG", mark, shared,
           WIFSIGNALED(st) ? "killed" : "exited");
    return NULL;
}

int main(void)
{
    shared = malloc(64);
    strcpy(shared, "parent");
    size_t size = 1 << 20;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, malloc(size), size);
    pthread_t t;
    pthread_create(&t, &attr, forker, NULL);
    pthread_join(t, NULL);
    return 0;
}
