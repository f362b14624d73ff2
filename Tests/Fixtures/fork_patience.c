/* fork_patience.c — a parent with a big heap (argv[1] live objects) forks a child that exits
 * after 2 ms without touching the heap, and writes its heap at once.
 *
 * The parent's write waits for the child. How long it may wait before the parent copies its
 * heap grows with what that copy would cost: with 100,000 live objects (about 300 ms) that is
 * far more than the child's 2 ms, so the child exits first and nothing is copied (verbosity=2
 * counts it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    char **v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) { v[i] = malloc(32); memset(v[i], 'a', 32); }
    pid_t pid = fork();
    if (pid == 0) {
        usleep(2000);
        _exit(0);
    }
    v[0][0] = 'b';
    int st = 0;
    waitpid(pid, &st, 0);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && v[0][0] == 'b' && v[n - 1][0] == 'a';
    printf("parent heap %s\n", ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
