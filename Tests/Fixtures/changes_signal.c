/* changes_at_exit=1 with changes_signal=SIGUSR2: the snapshot is taken when the signal arrives,
 * not at start-up. A write before the signal must not be counted; after it, one object written,
 * one freed, and two new objects from another site. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static char *settings[4], *extra[2];

__attribute__((noinline)) static void load_settings(void)
{
    for (int i = 0; i < 4; i++) settings[i] = calloc(1, 32);
}

__attribute__((noinline)) static void grow_table(void)
{
    for (int i = 0; i < 2; i++) extra[i] = malloc(64);
}

int main(void)
{
    load_settings();
    memcpy(settings[0], "before", 7); /* before the snapshot: not a change */
    raise(SIGUSR2);
    memcpy(settings[1], "after", 6);
    free(settings[3]);
    grow_table();
    return 0;
}
