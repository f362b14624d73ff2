/* After fork the child's heap is its own: its writes, allocations and frees never reach the
 * parent's objects, and both go on allocating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    char *shared_name = malloc(32);
    strcpy(shared_name, "parent");
    char *before[100];
    for (int i = 0; i < 100; i++) { before[i] = malloc(64); memset(before[i], 'p', 64); }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(shared_name, "child");
        for (int i = 0; i < 100; i++) { memset(before[i], 'c', 64); free(before[i]); }
        for (int i = 0; i < 1000; i++) { char *x = malloc(64); memset(x, 'x', 64); }
        printf("child sees %s\n", shared_name);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    int intact = strcmp(shared_name, "parent") == 0;
    for (int i = 0; i < 100; i++)
        for (int k = 0; k < 64; k++) if (before[i][k] != 'p') intact = 0;
    for (int i = 0; i < 100; i++) free(before[i]);
    char *after = malloc(64);
    strcpy(after, "still allocating");
    printf("parent heap intact: %s, child status %d, %s\n", intact ? "yes" : "no", WEXITSTATUS(status), after);
    return intact ? 0 : 1;
}
