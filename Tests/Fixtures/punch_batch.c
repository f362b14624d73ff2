/* Freed slots wait, guarded, to be punched in batches (slots.c). Two things must still hold:
 *
 *   full      with the arena file unable to grow (RLIMIT_FSIZE), slots freed but not yet
 *             punched are the room a new allocation wants: run with quarantine_mb=0, ten frees
 *             make room for ten mallocs.
 *   continue  under on_error=continue a use after free opens the freed slot's page, and the
 *             program goes on using it: a later batch must not punch the page away under it,
 *             alone or merged with its freed neighbours. The stale write in write_stale is
 *             reported and its value is still there after 200 more frees.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

__attribute__((noinline)) static void write_stale(volatile char *p) { p[0] = 'K'; }

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "full")) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)64 << 20, (rlim_t)64 << 20};
        setrlimit(RLIMIT_FSIZE, &rl);
        static void *live[1 << 16];
        int n = 0;
        while (n < (1 << 16) && (live[n] = malloc(16)) != NULL) n++;
        if (n == 1 << 16 || errno != ENOMEM) { printf("the arena never filled (%d objects)\n", n); return 1; }
        for (int i = 0; i < 10; i++) free(live[--n]);
        int refilled = 0;
        for (int i = 0; i < 10; i++) refilled += (live[n + i] = malloc(16)) != NULL;
        printf("refilled %d of 10\n", refilled);
        return refilled == 10 ? 0 : 1;
    }
    /* Neighbours on both sides, freed in the same batch: a punch merged across the opened
     * slot would take its page too. */
    char *before = malloc(32), *stale = malloc(32), *after = malloc(32);
    strcpy(stale, "fresh");
    free(before);
    free(stale);
    write_stale(stale);
    free(after);
    for (int i = 0; i < 200; i++) free(malloc(16));
    printf("stale write %s\n", stale[0] == 'K' ? "kept" : "lost");
    return 0;
}
