/* snapshot.c — what snapshots cost: taking one over an arena of M MiB of live objects, the
 * first write to a page after it, and the memory it holds per page written.
 *   snapshot take_ms <MiB> <ms>
 *   snapshot first_write_us <us>
 *   snapshot memory_per_page_written <bytes>
 * Linked with -lmirrorguard (malloc is guarded, so malloc'd objects are arena objects).
 */
#include <mirrorguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 128;
    long objects = mib; /* 1 MiB each */
    char **obj = malloc(sizeof *obj * (size_t)objects);
    for (long i = 0; i < objects; i++) {
        obj[i] = malloc((size_t)1 << 20);
        memset(obj[i], (int)i, (size_t)1 << 20);
    }
    double t0 = now_us();
    mg_snapshot_t *s = mg_snapshot_take();
    double t1 = now_us();
    if (!s) return 1;
    printf("snapshot take_ms %ld %.2f\n", mib, (t1 - t0) / 1e3);
    long pages = objects * 256 < 20000 ? objects * 256 : 20000;
    double t2 = now_us();
    for (long p = 0; p < pages; p++) obj[p / 256][(p % 256) * 4096] = 1;
    double t3 = now_us();
    printf("snapshot first_write_us %.2f\n", (t3 - t2) / (double)pages);
    printf("snapshot memory_per_page_written %zu\n", mg_snapshot_memory(s) / (size_t)pages);
    printf("snapshot method %s\n", mg_snapshot_method());
    mg_snapshot_release(s);
    return 0;
}
