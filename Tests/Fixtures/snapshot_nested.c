/* N nested snapshots (argv[2], default 40) over M MiB of malloc'd objects (argv[1], default 128),
 * with random writes from 4 threads between them. Each snapshot is checked page for page against
 * a checksum taken when it was taken; its memory must be proportional to the pages written after
 * it; release must close every store. Linked with -lmirrorguard, so malloc is guarded. */
#include <mirrorguard.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OBJ ((size_t)1 << 20)
#define PAGE 4096
#define PAGES_PER_OBJ (OBJ / PAGE)
#define THREADS 4

static long objects, rounds, writes_per_round = 4000;
static uint64_t **obj;

static uint64_t checksum(const uint64_t *p)
{
    uint64_t h = 0;
    for (size_t i = 0; i < PAGE / 8; i++) h = (h << 7 | h >> 57) ^ p[i];
    return h;
}

static void *writer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (long i = 0; i < writes_per_round / THREADS; i++) {
        long o = rand_r(&seed) % objects;
        size_t word = (size_t)rand_r(&seed) % (OBJ / 8);
        obj[o][word] = ((uint64_t)rand_r(&seed) << 32) | (uint64_t)rand_r(&seed);
    }
    return NULL;
}

/* Snapshot stores are private mappings of the arena file: count them in /proc/self/maps. */
static int snapshot_fds(void)
{
    int n = 0;
    char line[512];
    FILE *maps = fopen("/proc/self/maps", "r");
    while (fgets(line, sizeof line, maps)) n += strstr(line, "mirrorguard-arena") && strstr(line, " rw-p ");
    fclose(maps);
    return n;
}

int main(int argc, char **argv)
{
    objects = argc > 1 ? atol(argv[1]) : 128;
    rounds = argc > 2 ? atol(argv[2]) : 40;
    obj = malloc(sizeof *obj * (size_t)objects);
    for (long o = 0; o < objects; o++) {
        obj[o] = malloc(OBJ);
        for (size_t w = 0; w < OBJ / 8; w += 512) obj[o][w] = (uint64_t)o << 32 | w;
    }
    long pages = objects * (long)PAGES_PER_OBJ;
    uint64_t *sums = malloc(sizeof *sums * (size_t)(pages * rounds));
    mg_snapshot_t **snaps = malloc(sizeof *snaps * (size_t)rounds);
    int disproportionate = 0;
    for (long r = 0; r < rounds; r++) {
        snaps[r] = mg_snapshot_take();
        if (!snaps[r]) { printf("take failed at %ld\n", r); return 1; }
        for (long o = 0; o < objects; o++)
            for (size_t p = 0; p < PAGES_PER_OBJ; p++) sums[r * pages + o * (long)PAGES_PER_OBJ + (long)p] = checksum(obj[o] + p * (PAGE / 8));
        pthread_t t[THREADS];
        for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, writer, (void *)(uintptr_t)(r * THREADS + i + 1));
        for (long i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    }
    /* Before any view copies more: what each snapshot holds is what was written after it. */
    for (long r = 0; r < rounds; r++) {
        size_t bytes = mg_snapshot_memory(snaps[r]);
        size_t bound = (size_t)writes_per_round * (size_t)(rounds - r) * PAGE + 64 * PAGE;
        if (bytes == 0 || bytes > bound) disproportionate++;
    }
    size_t first = mg_snapshot_memory(snaps[0]), last = mg_snapshot_memory(snaps[rounds - 1]);
    long mismatches = 0;
    for (long r = 0; r < rounds; r++)
        for (long o = 0; o < objects; o++) {
            const uint64_t *seen = mg_snapshot_view(snaps[r], obj[o]);
            for (size_t p = 0; p < PAGES_PER_OBJ; p++)
                mismatches += checksum(seen + p * (PAGE / 8)) != sums[r * pages + o * (long)PAGES_PER_OBJ + (long)p];
        }
    int before = snapshot_fds();
    for (long r = 0; r < rounds; r++) mg_snapshot_release(snaps[r]);
    printf("%ld snapshots of %ld MiB: %ld mismatches, memory proportional to writes: %s (oldest %s newest), stores mapped %s, after release %d\n",
           rounds, objects, mismatches, disproportionate ? "no" : "yes", first > last ? ">" : "<=",
           before == rounds ? "all" : "some", snapshot_fds());
    return 0;
}
