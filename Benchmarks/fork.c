/* fork.c — the cost of fork + exec from a process with a heap: N live 64-byte objects
 * (argv[1]); K times (argv[2]): fork, the child execs /bin/true, the parent writes its heap at
 * once and waits for the child; with argv[3] = "read" it then also reads all its objects, as a
 * parent that works between forks does. Prints milliseconds per round:
 *   fork live=<N> ms_per_fork=<ms>
 * The parent checks its heap after each round and exits 1 if a byte changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 20;
    int reads = argc > 3 && strcmp(argv[3], "read") == 0;
    volatile long sum = 0;
    char **v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) { v[i] = malloc(64); memset(v[i], 'a', 64); }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < rounds; k++) {
        pid_t p = fork();
        if (p == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
        v[k % n][1] = 'b';
        int st;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 2;
        if (reads)
            for (int i = 0; i < n; i++) sum += v[i][0];
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (int i = 0; i < n; i++)
        if (v[i][0] != 'a' || v[i][1] != (i < rounds ? 'b' : 'a')) return 1;
    printf("fork live=%d ms_per_fork=%.3f\n", n, ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / rounds);
    return 0;
}
