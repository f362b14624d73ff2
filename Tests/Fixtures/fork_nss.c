/* fork_nss.c — fork from a process with threads that has used NSS (getpwuid), so that glibc's
 * NSS state lives in the heap.
 *
 * In a process with threads glibc's fork locks and unlocks that state after the atfork
 * handlers have run and before the fork itself: a write to the heap from the forking thread
 * while a lazy fork has it write-protected. (bash does this at every command substitution when
 * SHELL is not in its environment: it looked its user up at start-up.) Each of 30 children
 * writes an inherited object and looks a user up itself, then exits or execs; the parent checks
 * that its own object and NSS still work. Exits 0 when all is well. */
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *idle(void *arg) { (void)arg; pause(); return NULL; }

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    struct passwd *pw = getpwuid(0);
    if (!pw) { puts("no user 0"); return 1; }
    char *p = malloc(64);
    strcpy(p, "parent");
    int bad = 0;
    for (int i = 0; i < 30; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            if (i % 3 == 0) { execl("/bin/true", "true", (char *)NULL); _exit(126); }
            if (i % 3 == 1) _exit(0);
            strcpy(p, "child");
            struct passwd *cpw = getpwuid(0);
            _exit(cpw && strcmp(cpw->pw_name, "root") == 0 && strcmp(p, "child") == 0 ? 0 : 1);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    pw = getpwuid(0);
    printf("%d children failed; parent sees %s; user 0 is %s\n", bad, p, pw ? pw->pw_name : "?");
    return bad == 0 && strcmp(p, "parent") == 0 ? 0 : 1;
}
