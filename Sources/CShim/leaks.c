/*
 * leaks.c — detect_leaks=1: objects no longer reachable at exit, grouped by allocation stack.
 *
 * Reporting every object still live at exit would drown real leaks in buffers that libc and the
 * program still hold through globals (stdio's buffers, caches). So, like LeakSanitizer, this is
 * a mark phase: every aligned word of the process's private writable memory (data and bss of
 * every module, thread stacks, the registers spilled onto this stack) that points into a live
 * object marks it reachable, and marked objects are scanned in turn. Our own metadata is not a
 * root. What is left unmarked leaked; each allocation site gets one report with the count and
 * bytes of its objects.
 *
 * Runs from an atexit handler registered at start-up, so it runs after the program's own
 * atexit handlers and C++ static destructors. Normal context: it may use stdio to flush the
 * program's output before ending the process with `exitcode`.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

/* Mappings of our own that are not roots (slot table, page map, stack store). */
static struct { uintptr_t begin, end; } own[32];
static int own_count;

void _mg_leaks_exclude(const void *p, size_t len)
{
    if (own_count < 32) {
        own[own_count].begin = (uintptr_t)p;
        own[own_count].end = (uintptr_t)p + len;
        own_count++;
    }
}

enum { UNMARKED, REACHABLE, INDIRECT };
static uint8_t *marks;      /* per slot id */
static uint8_t mark_as = REACHABLE;
static uint32_t *work;      /* stack of slot ids to scan */
static size_t work_len, work_cap;

static void consider(uintptr_t word)
{
    int64_t off = _mg_offset_of(word, NULL);
    if (off < 0) return;
    uint32_t id = 0;
    const struct mg_slot *s = _mg_slot_for((uint64_t)off, &id);
    if (!s || s->state != MG_SLOT_LIVE || marks[id]) return;
    /* Interior pointers count, as they do for LeakSanitizer. */
    if ((uint64_t)off < s->user || (uint64_t)off > s->user + s->size) return;
    marks[id] = mark_as;
    if (work_len < work_cap) work[work_len++] = id;
}

/* Reads memory through process_vm_readv, which fails instead of faulting: a file mapping past
 * its end, a page the program guarded, a mapping unmapped meanwhile. */
static void scan(uintptr_t begin, uintptr_t end)
{
    static uintptr_t chunk[8192];
    begin = (begin + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    while (begin + sizeof(uintptr_t) <= end) {
        size_t len = end - begin < sizeof chunk ? (end - begin) & ~(sizeof(uintptr_t) - 1) : sizeof chunk;
        struct iovec local = {chunk, len}, remote = {(void *)begin, len};
        ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
        if (got <= 0) { begin += _mg_arena.page; begin &= ~(uintptr_t)(_mg_arena.page - 1); continue; }
        for (size_t i = 0; i < (size_t)got / sizeof(uintptr_t); i++) consider(chunk[i]);
        begin += (size_t)got;
    }
}

/* Scans the objects on the work stack, and what they point to, transitively. */
static void drain(void)
{
    while (work_len > 0) {
        const struct mg_slot *s = _mg_slot_get(work[--work_len]);
        if (s->state != MG_SLOT_LIVE) continue; /* freed since it was marked */
        uintptr_t obj = _mg_addr(s->user, MG_VIEW_RW);
        scan(obj, obj + s->size);
    }
}

static int is_own(uintptr_t begin, uintptr_t end)
{
    for (int i = 0; i < own_count; i++)
        if (begin < own[i].end && end > own[i].begin) return 1;
    return 0;
}

/* Scans every private, readable and writable mapping that is not ours. /proc/self/maps is read
 * with read(2) into a static buffer: stdio would allocate, and its buffer would be freed again
 * under the scan. */
static void scan_roots(void)
{
    static char buf[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0 && have == 0) break;
        if (n > 0) have += (size_t)n;
        buf[have] = 0;
        char *nl = memchr(buf, '\n', have);
        if (!nl && n > 0 && have < sizeof buf - 1) continue;
        if (!nl) nl = buf + have; /* the last line, or one longer than the buffer */
        *nl = 0;
        unsigned long begin, end;
        char perms[5];
        if (sscanf(buf, "%lx-%lx %4s", &begin, &end, perms) == 3 &&
            perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p' &&
            !strstr(buf, "[vvar") && !strstr(buf, "[vsyscall]") &&
            !strstr(buf, "mirrorguard-arena") && /* snapshot stores: copies, not roots */
            !is_own(begin, end) && end - begin <= ((size_t)1 << 32)) {
            /* This thread's stack counts from the live stack pointer up: below it lie stale
             * values of finished calls that would keep leaked objects "reachable". */
            uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
            scan(sp >= begin && sp < end ? sp : begin, end);
        }
        size_t used = (size_t)(nl - buf) + (nl < buf + have ? 1 : 0);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    close(fd);
}

struct group {
    uint32_t stack;
    int indirect;
    uint32_t first;      /* a slot of the group, for its address and thread */
    size_t count, bytes;
};

/* Direct leaks first, then the largest. */
static int by_bytes(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->indirect != y->indirect) return x->indirect - y->indirect;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static void check_leaks(void)
{
    uint32_t total = 0;
    while (_mg_slot_get(total + 1)) total++;
    if (total == 0) return;
    size_t slots = (size_t)total + 1;
    marks = mmap(NULL, slots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    work = mmap(NULL, slots * sizeof *work, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct group *groups = mmap(NULL, slots * sizeof *groups, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (marks == MAP_FAILED || work == MAP_FAILED || groups == MAP_FAILED) {
        _mg_warn("detect_leaks: no memory for the leak scan");
        return;
    }
    work_cap = slots;
    _mg_leaks_exclude(marks, slots);
    _mg_leaks_exclude(work, slots * sizeof *work);

    /* Registers may hold the only pointer to an object: spill them onto this stack. */
    jmp_buf regs;
    setjmp(regs);
    scan_roots();
    drain();
    /* What leaked objects point to leaked only through them: an indirect leak. */
    mark_as = INDIRECT;
    for (uint32_t id = 1; id <= total; id++) {
        const struct mg_slot *s = _mg_slot_get(id);
        if (s->state != MG_SLOT_LIVE || marks[id] != UNMARKED) continue;
        uintptr_t obj = _mg_addr(s->user, MG_VIEW_RW);
        scan(obj, obj + s->size);
        drain();
    }

    size_t ngroups = 0;
    for (uint32_t id = 1; id <= total; id++) {
        const struct mg_slot *s = _mg_slot_get(id);
        if (s->state != MG_SLOT_LIVE || marks[id] == REACHABLE) continue;
        int indirect = marks[id] == INDIRECT;
        size_t g = 0;
        while (g < ngroups && (groups[g].stack != s->alloc_stack || groups[g].indirect != indirect)) g++;
        if (g == ngroups) groups[ngroups++] = (struct group){s->alloc_stack, indirect, id, 0, 0};
        groups[g].count++;
        groups[g].bytes += s->size;
    }
    qsort(groups, ngroups, sizeof *groups, by_bytes);
    for (size_t g = 0; g < ngroups; g++) {
        const struct mg_slot *s = _mg_slot_get(groups[g].first);
        int n;
        const uintptr_t *frames = _mg_stack_get(groups[g].stack, &n);
        char note[128];
        snprintf(note, sizeof note, "%s leak: %zu bytes in %zu object%s, allocated from the stack above",
                 groups[g].indirect ? "indirect" : "direct", groups[g].bytes, groups[g].count,
                 groups[g].count == 1 ? "" : "s");
        struct mg_report r = {
            .kind = MG_KIND_MEMORY_LEAK,
            .addr = _mg_addr(s->user, (enum mg_view)s->view),
            .pc = n ? frames[0] : 0,
            .access = "LEAK",
            .tid = s->alloc_tid,
            .frames = frames,
            .nframes = n,
            .where = MG_WHERE_INSIDE,
            .region_begin = _mg_addr(s->user, (enum mg_view)s->view),
            .region_size = s->size,
            .note = note,
        };
        _mg_report(&r);
    }
    if (ngroups > 0 && _mg_opt.on_error == MG_ON_ERROR_ABORT) {
        fflush(NULL);
        _mg_report_abort();
    }
}

void _mg_leaks_install(void)
{
    if (_mg_opt.detect_leaks) atexit(check_leaks);
}

#pragma GCC visibility pop
