/* The founding scenario: a list; snapshot; put; snapshot; put. All three states readable at
 * once, through the snapshots, and what changed between them. Also: read(2) into a buffer that a
 * snapshot protects, a forked child writing the heap, and release. */
#include <fcntl.h>
#include <mirrorguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct node { int value; const struct node *next; };

static const struct node *put(const struct node *head, int value)
{
    struct node *n = mg_unprotect(mg_alloc(sizeof *n));
    n->value = value;
    n->next = head;
    return mg_protect(n);
}

/* Prints the list as snapshot s saw it (s NULL: now). */
static void show(const char *label, const mg_snapshot_t *s, const struct node *head)
{
    printf("%s:", label);
    for (const struct node *n = head; n; ) {
        const struct node *seen = s ? mg_snapshot_view(s, n) : n;
        if (!seen) { printf(" (gone)"); break; }
        printf(" %d", seen->value);
        n = seen->next;
    }
    printf("\n");
}

int main(void)
{
    const struct node *list = put(put(NULL, 1), 2);
    mg_snapshot_t *s1 = mg_snapshot_take();
    const struct node *list1 = list;
    list = put(list, 3);
    struct node *w = mg_unprotect(list->next); /* change an old node in place too */
    w->value = 20;
    mg_protect(w);
    mg_snapshot_t *s2 = mg_snapshot_take();
    const struct node *list2 = list;
    list = put(list, 4);
    show("s1", s1, list1);
    show("s2", s2, list2);
    show("now", NULL, list);
    printf("node 3 in s1: %s\n", mg_snapshot_view(s1, list2) ? "present" : "absent");

    mg_change_t changes[16];
    size_t n = mg_snapshot_changes(s1, s2, changes, 16);
    int written = 0, allocated = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        if (changes[i].kind == MG_CHANGE_WRITTEN) written++;
        if (changes[i].kind == MG_CHANGE_ALLOCATED) allocated++;
    }
    printf("s1 -> s2: %zu changes, %d written, %d allocated\n", n, written, allocated);

    /* A syscall writing into protected memory waits for the copy instead of failing. */
    char *buf = malloc(64);
    memset(buf, 'a', 64);
    mg_snapshot_t *s3 = mg_snapshot_take();
    int fd = open("/proc/self/comm", O_RDONLY);
    ssize_t got = read(fd, buf, 63);
    close(fd);
    const char *old = mg_snapshot_view(s3, buf);
    printf("read(2) into a protected buffer: %s, snapshot kept '%c'\n", got > 0 ? "ok" : "failed", old ? old[0] : '?');

    /* A forked child writing the heap changes neither the parent nor its snapshots. */
    pid_t pid = fork();
    if (pid == 0) {
        struct node *c = mg_unprotect(list);
        c->value = 999;
        mg_protect(c);
        memset(buf, 'c', 64);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    show("after the child", NULL, list);
    printf("s3 still sees '%c'\n", ((const char *)mg_snapshot_view(s3, buf))[0]);
    mg_snapshot_release(s3);
    mg_snapshot_release(s2);
    mg_snapshot_release(s1);
    printf("method %s\n", mg_snapshot_method());
    return 0;
}
