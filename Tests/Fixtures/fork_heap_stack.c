/* fork_heap_stack.c — fork() from code running on a stack that is a heap object.
 *
 *   fork_heap_stack thread      a thread made with pthread_attr_setstack on malloc'd memory
 *                               (glibc keeps the thread's own control block in that stack too)
 *   fork_heap_stack coroutine   a makecontext coroutine on a malloc'd stack, in the main thread
 *
 * The child's copy of the heap is taken before the fork, so the stack in it is stale: the child
 * cannot run. What must hold is the parent: it never hangs, and its stack and heap are never
 * written by the child. Prints the parent's view and how the child ended. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static char *shared;

static void forker(void)
{
    volatile int mark = 42;
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(shared, "child");
        _exit(7);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("parent: pid %s, mark %d, heap %s, child ", pid > 0 ? "ok" : "WRONG", mark, shared);
    if (WIFSIGNALED(st)) printf("killed by %d\n", WTERMSIG(st));
    else printf("exited %d\n", WEXITSTATUS(st));
}

static void *thread_main(void *arg)
{
    (void)arg;
    forker();
    return NULL;
}

int main(int argc, char **argv)
{
    shared = malloc(64);
    strcpy(shared, "parent");
    fflush(stdout);
    size_t size = 1 << 20;
    if (argc > 1 && strcmp(argv[1], "coroutine") == 0) {
        static ucontext_t back, co;
        getcontext(&co);
        co.uc_stack.ss_sp = malloc(size);
        co.uc_stack.ss_size = size;
        co.uc_link = &back;
        makecontext(&co, forker, 0);
        swapcontext(&back, &co);
        return 0;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, malloc(size), size);
    pthread_t t;
    pthread_create(&t, &attr, thread_main, NULL);
    pthread_join(t, NULL);
    return 0;
}
