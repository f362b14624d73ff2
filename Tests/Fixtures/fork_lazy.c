/* fork (run with fork=lazy, fork=copy or the default) from a heap of 2,000 live objects, in
 * every way a child can go on; after each, the parent checks every object of its own heap.
 *   exec      the child execs /bin/true while the parent writes its heap at once
 *   syscall   the child read(2)s into an inherited heap buffer (a kernel write), then exits
 *   slow      the child sleeps argv[1] ms (past fork_wait_ms) and only then reads its heap; the parent writes
 *             at once (it must move to a copy of its own), and the child must see the old bytes
 *   frees     the child frees inherited objects, allocates, reallocates, then exits
 *   nested    the child forks a grandchild that writes its heap
 *   threads   a second parent thread keeps writing the heap across the fork
 *   childthreads  the child starts threads that all allocate, then exits
 *   flushing  a parent thread flushes every stream (a FILE in the heap) while main forks
 * Prints one line per case and exits 0 when every check held. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIVE 2000
static char *objs[LIVE];
static int bad;

static void fill(char c) { for (int i = 0; i < LIVE; i++) memset(objs[i], c, 48); }
static int all(char c)
{
    for (int i = 0; i < LIVE; i++)
        for (int k = 0; k < 48; k++) if (objs[i][k] != c) return 0;
    return 1;
}
static int child_status(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
static void check(const char *name, int ok)
{
    printf("%s: %s\n", name, ok ? "ok" : "WRONG");
    if (!ok) bad++;
}

static volatile int stop, swept;
static char *blocks[4][20000];
static void *allocator(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 20000; i++) { blocks[id][i] = malloc(24); memset(blocks[id][i], (int)id + 1, 24); }
    return NULL;
}
static FILE *logf;
static void *flusher(void *arg)
{
    (void)arg;
    while (!stop) { fputs("x", logf); fflush(NULL); }
    return NULL;
}
static void *writer(void *arg)
{
    (void)arg;
    for (long n = 0; !stop; n++) {
        objs[n % LIVE][47] = 't';
        if (n == LIVE - 1) swept = 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int slow_ms = argc > 1 ? atoi(argv[1]) : 200;
    for (int i = 0; i < LIVE; i++) objs[i] = malloc(48);
    fflush(stdout);

    fill('a');
    pid_t pid = fork();
    if (pid == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
    fill('b'); /* at once, while the child may not have exec'd yet */
    check("exec", child_status(pid) == 0 && all('b'));

    pid = fork();
    if (pid == 0) {
        int p[2];
        if (pipe(p) != 0 || write(p[1], "kernel", 6) != 6) _exit(2);
        ssize_t n = read(p[0], objs[7], 6); /* into an inherited, write-protected page */
        _exit(n == 6 && memcmp(objs[7], "kernel", 6) == 0 && objs[8][0] == 'b' ? 0 : 3);
    }
    int st = child_status(pid);
    check("syscall", st == 0 && all('b'));

    pid = fork();
    if (pid == 0) {
        usleep((useconds_t)slow_ms * 1000); /* far past fork_wait_ms: the parent has moved to its own copy */
        _exit(all('b') ? 0 : 4);
    }
    fill('c');
    check("slow", child_status(pid) == 0 && all('c'));

    pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 500; i++) free(objs[i]);
        char *fresh[300];
        for (int i = 0; i < 300; i++) { fresh[i] = malloc(64); memset(fresh[i], 'f', 64); }
        for (int i = 0; i < 300; i++) fresh[i] = realloc(fresh[i], 200);
        int ok = 1;
        for (int i = 0; i < 300; i++) ok &= fresh[i][63] == 'f';
        for (int i = 500; i < LIVE; i++) ok &= objs[i][0] == 'c';
        _exit(ok ? 0 : 5);
    }
    check("frees", child_status(pid) == 0 && all('c'));

    pid = fork();
    if (pid == 0) {
        pid_t g = fork();
        if (g == 0) { memset(objs[3], 'g', 48); _exit(objs[3][0] == 'g' && objs[4][0] == 'c' ? 0 : 6); }
        int ok = child_status(g) == 0 && objs[3][0] == 'c';
        _exit(ok ? 0 : 7);
    }
    check("nested", child_status(pid) == 0 && all('c'));

    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    while (!swept) usleep(100); /* it has written every object once; it goes on across the fork */
    pid = fork();
    if (pid == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
    st = child_status(pid);
    stop = 1;
    pthread_join(t, NULL);
    int ok = st == 0;
    for (int i = 0; i < LIVE; i++) ok &= objs[i][0] == 'c' && objs[i][47] == 't';
    check("threads", ok);
    fill('c');

    pid = fork();
    if (pid == 0) {
        pthread_t ts[4];
        for (long i = 0; i < 4; i++) pthread_create(&ts[i], NULL, allocator, (void *)i);
        for (int i = 0; i < 4; i++) pthread_join(ts[i], NULL);
        int ok = 1;
        for (long id = 0; id < 4; id++)
            for (int i = 0; i < 20000; i++)
                for (int k = 0; k < 24; k++) ok &= blocks[id][i][k] == id + 1;
        _exit(ok ? 0 : 8);
    }
    check("childthreads", child_status(pid) == 0 && all('c'));

    logf = fopen("/dev/null", "w");
    stop = 0;
    pthread_create(&t, NULL, flusher, NULL);
    ok = 1;
    for (int k = 0; k < 50; k++) {
        pid = fork();
        if (pid == 0) _exit(0);
        ok &= child_status(pid) == 0;
    }
    stop = 1;
    pthread_join(t, NULL);
    fclose(logf);
    check("flushing", ok && all('c'));

    char *after = malloc(32);
    strcpy(after, "allocating");
    printf("parent still %s\n", after);
    return bad ? 1 : 0;
}
