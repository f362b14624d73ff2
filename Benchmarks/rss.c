/* rss.c — resident memory per live small object, and what comes back after free.
 *
 *   rss [N]               (N defaults to 200,000)
 *
 * Reads VmRSS (and its RssAnon / RssShmem parts) from /proc/self/status with open/read (no malloc),
 * then mallocs N 16-byte objects writing the first byte of each, reads again, frees them all and
 * reads a third time. The pointer table is mmap'ed and touched before the first reading, so it is in
 * the baseline and not counted per object.
 *
 * Output (stdout), sizes in KiB:
 *   rss n=N before=KiB live=KiB freed=KiB per_object_kib=X freed_delta_kib=D
 *   rss-detail phase=before|live|freed rss=KiB anon=KiB shmem=KiB
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct rss {
    long rss, anon, shmem;
};

static long field(const char *buf, const char *name)
{
    const char *p = strstr(buf, name);
    return p ? atol(p + strlen(name)) : -1;
}

static struct rss read_rss(void)
{
    char buf[8192];
    struct rss r = {-1, -1, -1};
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return r;
    ssize_t got = 0, k;
    while (got < (ssize_t)sizeof buf - 1 && (k = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += k;
    close(fd);
    buf[got > 0 ? got : 0] = 0;
    r.rss = field(buf, "VmRSS:");
    r.anon = field(buf, "RssAnon:");
    r.shmem = field(buf, "RssShmem:");
    return r;
}

static void detail(const char *phase, struct rss r)
{
    printf("rss-detail phase=%s rss=%ld anon=%ld shmem=%ld\n", phase, r.rss, r.anon, r.shmem);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char **obj = mmap(NULL, (size_t)n * sizeof *obj, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (obj == MAP_FAILED) return 70;
    memset(obj, 0, (size_t)n * sizeof *obj);
    /* one malloc/free first so the allocator's own start-up is in the baseline */
    free(malloc(16));
    struct rss before = read_rss();
    for (long i = 0; i < n; i++) {
        obj[i] = malloc(16);
        if (!obj[i]) {
            printf("rss-fail at=%ld\n", i);
            return 2;
        }
        obj[i][0] = 1;
    }
    struct rss live = read_rss();
    for (long i = 0; i < n; i++) free(obj[i]);
    struct rss freed = read_rss();
    detail("before", before);
    detail("live", live);
    detail("freed", freed);
    printf("rss n=%ld before=%ld live=%ld freed=%ld per_object_kib=%.3f freed_delta_kib=%ld\n", n,
           before.rss, live.rss, freed.rss, (double)(live.rss - before.rss) / (double)n,
           freed.rss - before.rss);
    return 0;
}
