/* changes_at_exit=1: objects from two allocation sites, some written after start-up, one freed;
 * the exit summary must name each site with its counts. */
#include <stdlib.h>
#include <string.h>

static char *settings[4], *cache;

__attribute__((noinline)) static void load_settings(void)
{
    for (int i = 0; i < 4; i++) settings[i] = calloc(1, 32);
}

__attribute__((noinline)) static void fill_cache(void) { cache = malloc(128); }

int main(void)
{
    load_settings();
    fill_cache();
    memcpy(settings[1], "changed", 8);
    memcpy(settings[2], "changed", 8);
    free(cache);
    return 0;
}
