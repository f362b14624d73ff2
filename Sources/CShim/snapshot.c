/*
 * snapshot.c — copy-on-write snapshots of the whole arena: any number, nested, and a list of
 * what changed.
 *
 * mmap cannot give a copy-on-write view of memory that was itself already copied, but
 * userfaultfd write-protection on the shared arena file can. Taking a snapshot write-protects the
 * writable view (UFFDIO_WRITEPROTECT over the file: markers even on pages never touched) and
 * records which objects were live. The first write to a page afterwards, from any thread and
 * from a syscall too (read(2) into a heap buffer), stops in the kernel; a handler thread copies
 * the page into every live snapshot that lacks it, and lifts the protection, which lets the write
 * go on. A snapshot's store is a MAP_PRIVATE mapping of the arena file itself: a page never
 * written since the snapshot reads straight through to the file, which has not changed there;
 * copying a page into the store before its first write makes that one page private. So:
 *   - taking a snapshot costs the write-protect, not a copy of the arena;
 *   - a page is copied once per snapshot that still needs it, at its first write after it;
 *   - a snapshot that lacks a page's copy knows the page has not changed since it was taken.
 * Objects freed after a snapshot have their pages copied before free punches them out, so they
 * stay readable in it. A view is a pointer into the store, with no copying. Releasing a snapshot
 * unmaps its store, which frees its copies.
 *
 * Writes go through the writable view (write sections, malloc'd pointers, emulated stray writes),
 * which is the one view registered. A forked child maps its own copy of the arena (fork.c), so
 * its writes never reach the parent's arena or its snapshots; the child starts with none.
 *
 * Where userfaultfd is missing (or snapshot=copy), a snapshot copies every live object into its
 * store when it is taken: correct, with a cost proportional to the live heap.
 * mg_snapshot_method() says which.
 *
 * Normal context only: these calls take a mutex and may start a thread. No malloc: stores and
 * bookkeeping are mmap'd, so the handler thread never enters the allocator (a canary write of its
 * own could then stop on a protected page and wait for itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mg_internal.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif

#pragma GCC visibility push(hidden)

struct snap_slot {
    uint64_t user, size;
    uint32_t gen, alloc_stack;
    uint8_t live;
};

struct mg_snapshot {
    uintptr_t base;            /* the store: a private mapping of the arena file */
    size_t size;               /* the arena file's size when taken */
    uint8_t *copied;           /* one bit per page: the store holds this page */
    struct snap_slot *slots;   /* every slot as it was, by id */
    uint32_t nslots;
    size_t mapping;            /* bytes of this struct's own mapping */
};

enum { METHOD_NONE, METHOD_UFFD, METHOD_COPY };
#define MAX_SNAPSHOTS 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mg_snapshot *live[MAX_SNAPSHOTS];
static int nlive;
static int method;
static int uffd = -1;
_Atomic int _mg_snapshots_active;

/* Program threads hold the snapshot lock (and the fork and baseline locks) with every signal
 * blocked: a signal handler that wrote to the heap meanwhile would wait for the handler thread,
 * which would wait for the lock. The handler thread blocks every signal anyway. */
static void lock_quiet(pthread_mutex_t *m, sigset_t *old)
{
    _mg_signals_block(old);
    pthread_mutex_lock(m);
}

static void unlock_loud(pthread_mutex_t *m, const sigset_t *old)
{
    pthread_mutex_unlock(m);
    _mg_signals_restore(old);
}

static size_t pages_of(size_t bytes) { return (bytes + _mg_arena.page - 1) >> _mg_arena.page_shift; }

static int has_copy(const struct mg_snapshot *s, size_t page)
{
    return (s->copied[page >> 3] >> (page & 7)) & 1;
}

/* Makes page `page` of s a private copy of the arena's current bytes. */
static void copy_page(struct mg_snapshot *s, size_t page)
{
    uint64_t off = (uint64_t)page << _mg_arena.page_shift;
    /* Read through the writable view: write-protection never blocks reads. */
    memcpy((void *)(s->base + off), (const void *)(_mg_arena.rw + off), _mg_arena.page);
    s->copied[page >> 3] |= (uint8_t)(1u << (page & 7));
}

/* Copies page `page` of the arena into every live snapshot that needs it and lacks it. Called
 * with the lock held, before the page changes. */
static void preserve_page(size_t page)
{
    uint64_t off = (uint64_t)page << _mg_arena.page_shift;
    for (int i = 0; i < nlive; i++) {
        struct mg_snapshot *s = live[i];
        if (off < s->size && !has_copy(s, page)) copy_page(s, page);
    }
}

/* Reads every waiting message: fork events, and write-protect faults, each of which copies its
 * page into the snapshots and then lifts the protection of that page, which wakes the writer. A
 * parent's fault while a lazily forked child is pending is held instead (fork.c wakes it). */
/* A descriptor kept free for the fork event's new one: with the table full, the event could
 * not be read, and the forking thread would wait for ever. */
static int spare_fd = -1;

static void serve(int fd)
{
    struct uffd_msg msgs[16];
    ssize_t n;
    for (;;) {
        n = read(fd, msgs, sizeof msgs);
        if (n < 0 && errno == EMFILE && spare_fd >= 0) {
            close(spare_fd);
            spare_fd = -1;
            n = read(fd, msgs, sizeof msgs);
        }
        if (spare_fd < 0) spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++) {
            const struct uffd_msg *msg = &msgs[i];
            if (msg->event == UFFD_EVENT_FORK) { _mg_fork_event((int)msg->arg.fork.ufd); continue; }
            if (msg->event != UFFD_EVENT_PAGEFAULT) continue;
            uintptr_t addr = (uintptr_t)msg->arg.pagefault.address & ~(uintptr_t)(_mg_arena.page - 1);
            uint64_t off = addr - _mg_arena.rw;
            /* Where the writer waits, read while it is stopped. */
            _mg_follow_fault((pid_t)msg->arg.pagefault.feat.ptid);
            if (_mg_fork_hold((pid_t)msg->arg.pagefault.feat.ptid)) continue;
            pthread_mutex_lock(&lock);
            if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) preserve_page(off >> _mg_arena.page_shift);
            (void)_mg_uffd_protect(off, _mg_arena.page, 0);
            pthread_mutex_unlock(&lock);
            _mg_follow_handled();
        }
    }
}

/* The handler thread: waits on the arena's userfaultfd and on what a pending fork child needs
 * watched (fork.c). */
static void *handler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    _mg_follow_enter(); /* on the writers' CPU, at idle priority (follow.c) */
    for (;;) {
        struct pollfd fds[4] = {{.fd = fd, .events = POLLIN}};
        int timeout = -1;
        int n = 1 + _mg_fork_watch(fds + 1, &timeout);
        if (n > 1) _mg_follow_normal(); /* a lazy fork is pending (follow.c) */
        if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR) return NULL;
        if (fds[0].revents & POLLIN) serve(fd);
        _mg_fork_serve(fds + 1, n - 1);
    }
}

/* Sets up userfaultfd write-protection on the writable view and starts the handler thread, once.
 * 0 or an errno value. Fork events are asked for, so that a lazily forked child's writes come
 * here too (fork.c). */
static int start_uffd(void)
{
    if (uffd >= 0) return 0;
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno;
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_UNPOPULATED |
                                         UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EVENT_FORK};
    int err = ioctl(fd, UFFDIO_API, &api) == 0 ? 0 : errno;
    uffd = fd;
    if (!err) err = _mg_uffd_register();
    if (err) {
        close(fd);
        uffd = -1;
        return err;
    }
    if (spare_fd < 0) spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    _mg_follow_start(fd);
    err = _mg_thread_start(handler, (void *)(intptr_t)fd);
    if (err) {
        close(fd);
        uffd = -1;
        return err;
    }
    return 0;
}

int _mg_uffd_start(void)
{
    sigset_t old;
    lock_quiet(&lock, &old);
    int err = start_uffd();
    unlock_loud(&lock, &old);
    return err;
}

int _mg_uffd_running(void)
{
    return uffd >= 0;
}

int _mg_uffd_protect_fd(int fd, uint64_t off, size_t len, int on)
{
    struct uffdio_writeprotect wp = {.range = {.start = _mg_arena.rw + off, .len = len},
                                     .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
    return fd < 0 ? EBADF : ioctl(fd, UFFDIO_WRITEPROTECT, &wp) == 0 ? 0 : errno;
}

int _mg_uffd_protect(uint64_t off, size_t len, int on)
{
    return _mg_uffd_protect_fd(uffd, off, len, on);
}

int _mg_uffd_register(void)
{
    struct uffdio_register reg = {.range = {.start = _mg_arena.rw, .len = _mg_arena.reserve}, .mode = UFFDIO_REGISTER_MODE_WP};
    return uffd < 0 ? EBADF : ioctl(uffd, UFFDIO_REGISTER, &reg) == 0 ? 0 : errno;
}

int _mg_uffd_wake(uint64_t off, size_t len)
{
    struct uffdio_range r = {.start = _mg_arena.rw + off, .len = len};
    return uffd < 0 ? EBADF : ioctl(uffd, UFFDIO_WAKE, &r) == 0 ? 0 : errno;
}

static void choose_method(void)
{
    if (method != METHOD_NONE) return;
    if (_mg_opt.snapshot == MG_SNAPSHOT_COPY) { method = METHOD_COPY; return; }
    int err = start_uffd();
    if (err == 0) { method = METHOD_UFFD; return; }
    if (_mg_opt.snapshot == MG_SNAPSHOT_UFFD)
        _mg_warn("snapshot=uffd: userfaultfd write-protection is not available here; copying at each snapshot instead");
    method = METHOD_COPY;
}

static void unmap_snapshot(struct mg_snapshot *s)
{
    if (s->base) munmap((void *)s->base, s->size);
    munmap(s, s->mapping);
}

static mg_snapshot_t *take(void);

#pragma GCC visibility pop

MG_EXPORT mg_snapshot_t *mg_snapshot_take(void)
{
    if (!_mg_ready()) { errno = ENOMEM; return NULL; }
    _mg_late_start();
    /* Not while a lazily forked child still shares the heap (fork.c): that settles first. */
    sigset_t old;
    _mg_signals_block(&old);
    _mg_fork_lock();
    mg_snapshot_t *s = take();
    int err = errno;
    _mg_fork_unlock();
    _mg_signals_restore(&old);
    errno = err;
    return s;
}

static mg_snapshot_t *take(void)
{
    pthread_mutex_lock(&lock);
    choose_method();
    if (nlive == MAX_SNAPSHOTS) { pthread_mutex_unlock(&lock); errno = EMFILE; return NULL; }
    _mg_slots_lock();
    size_t size = atomic_load(&_mg_arena.file_size);
    uint32_t nslots = _mg_slots_count();
    size_t bitmap = (pages_of(size) + 7) / 8;
    size_t mapping = sizeof(struct mg_snapshot) + bitmap + 8 + (size_t)nslots * sizeof(struct snap_slot);
    struct mg_snapshot *s = mmap(NULL, mapping, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) { _mg_slots_unlock(); pthread_mutex_unlock(&lock); errno = ENOMEM; return NULL; }
    s->mapping = mapping;
    s->size = size;
    s->nslots = nslots;
    s->copied = (uint8_t *)(s + 1);
    s->slots = (struct snap_slot *)(((uintptr_t)(s->copied + bitmap) + 7) & ~(uintptr_t)7);
    for (uint32_t id = 1; id < nslots; id++) {
        const struct mg_slot *sl = _mg_slot_get(id);
        s->slots[id] = (struct snap_slot){sl->user, sl->size, sl->gen, sl->alloc_stack, sl->state == MG_SLOT_LIVE};
    }
    int err = 0;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, _mg_arena.fd, 0);
    if (base == MAP_FAILED) err = ENOMEM;
    else s->base = (uintptr_t)base;
    if (!err && method == METHOD_COPY) {
        /* No write-protection: copy every live object's pages now. */
        for (uint32_t id = 1; id < nslots; id++) {
            const struct mg_slot *sl = _mg_slot_get(id);
            if (sl->state != MG_SLOT_LIVE) continue;
            for (size_t page = sl->first_page; page < (size_t)sl->first_page + sl->npages; page++) copy_page(s, page);
        }
    }
    if (!err && method == METHOD_UFFD) {
        err = _mg_uffd_protect(0, size, 1);
    }
    if (err) {
        _mg_slots_unlock();
        unmap_snapshot(s);
        pthread_mutex_unlock(&lock);
        errno = err;
        return NULL;
    }
    live[nlive++] = s;
    atomic_store(&_mg_snapshots_active, 1);
    _mg_slots_unlock();
    pthread_mutex_unlock(&lock);
    return s;
}

MG_EXPORT void mg_snapshot_release(mg_snapshot_t *s)
{
    if (!s) return;
    sigset_t old;
    lock_quiet(&lock, &old);
    for (int i = 0; i < nlive; i++) {
        if (live[i] != s) continue;
        live[i] = live[--nlive];
        unmap_snapshot(s);
        if (nlive == 0) {
            atomic_store(&_mg_snapshots_active, 0);
            /* Nobody needs copies any more: writes go at full speed again. */
            if (method == METHOD_UFFD) (void)_mg_uffd_protect(0, atomic_load(&_mg_arena.file_size), 0);
        }
        break;
    }
    unlock_loud(&lock, &old);
}

/* The slot id of p's object in snapshot s, and its offset, or 0. */
static uint32_t object_in(const mg_snapshot_t *s, const void *p, uint64_t *off)
{
    int64_t o = _mg_offset_of((uintptr_t)p, NULL);
    if (!s || o < 0 || (uint64_t)o >= s->size) return 0;
    uint32_t id = 0;
    _mg_slot_for((uint64_t)o, &id);
    if (!id || id >= s->nslots || !s->slots[id].live) return 0;
    const struct snap_slot *ss = &s->slots[id];
    if ((uint64_t)o < ss->user || (uint64_t)o > ss->user + ss->size) return 0;
    *off = (uint64_t)o;
    return id;
}

MG_EXPORT const void *mg_snapshot_view(const mg_snapshot_t *s, const void *p)
{
    uint64_t off;
    uint32_t id = object_in(s, p, &off);
    if (!id) return NULL;
    /* Pages without a copy read through to the arena file, unchanged since s; the first write
     * to one copies it into s first. So the view stays as it was, with no copying here. */
    return (const void *)(s->base + off);
}

/* ---- What changed ------------------------------------------------------------------------- */

struct emitter {
    mg_change_t *out;
    size_t max, count;
};

static void emit(struct emitter *e, uint64_t user, size_t offset, size_t length, mg_change_kind_t kind)
{
    if (e->count < e->max)
        e->out[e->count] = (mg_change_t){(const void *)_mg_addr(user, MG_VIEW_RO), offset, length, kind};
    e->count++;
}

/* The bytes of page `page` as snapshot s saw them, or NULL if s has no copy (then the page has not
 * changed since s was taken). */
static const uint8_t *page_in(const mg_snapshot_t *s, size_t page)
{
    return has_copy(s, page) ? (const uint8_t *)(s->base + ((uint64_t)page << _mg_arena.page_shift)) : NULL;
}

/* Byte ranges of an object that differ between s and later (or now), merged across small gaps. */
static void diff_object(struct emitter *e, const mg_snapshot_t *s, const mg_snapshot_t *later, uint64_t user, uint64_t size)
{
    int64_t start = -1, last_diff = -1;
    for (uint64_t o = user; o < user + size;) {
        size_t page = o >> _mg_arena.page_shift;
        uint64_t page_end = ((uint64_t)page + 1) << _mg_arena.page_shift;
        uint64_t stop = page_end < user + size ? page_end : user + size;
        const uint8_t *before = page_in(s, page);
        if (!before) { o = stop; continue; } /* unchanged since s */
        const uint8_t *after = later && has_copy(later, page) ? page_in(later, page)
                                                              : (const uint8_t *)(_mg_arena.rw + ((uint64_t)page << _mg_arena.page_shift));
        uint64_t base = (uint64_t)page << _mg_arena.page_shift;
        for (; o < stop; o++) {
            if (before[o - base] == after[o - base]) continue;
            if (start >= 0 && (int64_t)o - last_diff > 8) {
                emit(e, user, (size_t)(start - (int64_t)user), (size_t)(last_diff - start + 1), MG_CHANGE_WRITTEN);
                start = -1;
            }
            if (start < 0) start = (int64_t)o;
            last_diff = (int64_t)o;
        }
    }
    if (start >= 0) emit(e, user, (size_t)(start - (int64_t)user), (size_t)(last_diff - start + 1), MG_CHANGE_WRITTEN);
}

MG_EXPORT size_t mg_snapshot_changes(const mg_snapshot_t *s, const mg_snapshot_t *later, mg_change_t *out, size_t max)
{
    if (!s) return 0;
    struct emitter e = {out, out ? max : 0, 0};
    sigset_t old;
    lock_quiet(&lock, &old);
    uint32_t now_count = _mg_slots_count();
    uint32_t n = later ? later->nslots : now_count;
    if (s->nslots > n) n = s->nslots;
    for (uint32_t id = 1; id < n; id++) {
        struct snap_slot before = id < s->nslots ? s->slots[id] : (struct snap_slot){0};
        struct snap_slot after = {0};
        if (later) {
            if (id < later->nslots) after = later->slots[id];
        } else if (id < now_count) {
            const struct mg_slot *sl = _mg_slot_get(id);
            after = (struct snap_slot){sl->user, sl->size, sl->gen, sl->alloc_stack, sl->state == MG_SLOT_LIVE};
        }
        int same = before.live && after.live && before.gen == after.gen;
        if (before.live && !same) emit(&e, before.user, 0, before.size, MG_CHANGE_FREED);
        if (after.live && !same) emit(&e, after.user, 0, after.size, MG_CHANGE_ALLOCATED);
        if (same) diff_object(&e, s, later, before.user, before.size);
    }
    unlock_loud(&lock, &old);
    return e.count;
}

MG_EXPORT const char *mg_snapshot_method(void)
{
    if (!_mg_ready()) return "none";
    sigset_t old;
    lock_quiet(&lock, &old);
    choose_method();
    int m = method;
    unlock_loud(&lock, &old);
    return m == METHOD_UFFD ? "userfaultfd" : "copy";
}

MG_EXPORT size_t mg_snapshot_memory(const mg_snapshot_t *s)
{
    if (!s) return 0;
    size_t pages = 0, bytes = (pages_of(s->size) + 7) / 8;
    for (size_t i = 0; i < bytes; i++) pages += (size_t)__builtin_popcount(s->copied[i]);
    return pages << _mg_arena.page_shift;
}

#pragma GCC visibility push(hidden)

/* ---- changes_at_exit=1: which allocation sites' objects changed during the run ------------ */

/* The snapshot changes are counted from: taken at start-up, or (changes_signal=N) at the latest
 * arrival of signal N. A signal handler cannot take a snapshot (that takes locks), so it wakes a
 * thread that does, through a pipe, and waits a little for it: the snapshot then shows the heap
 * as it was when the signal arrived, unless the interrupted code held an allocator lock (the
 * wait gives up after a second and the snapshot follows soon after). */
static mg_snapshot_t *baseline;
static pthread_mutex_t baseline_lock = PTHREAD_MUTEX_INITIALIZER;
static int wake[2] = {-1, -1};
static _Atomic unsigned long requested, taken;
static int in_fork_child;   /* the baseline and the retaker are the parent's */

/* Groups the changes since the baseline by the stack that allocated each object, and prints them. */
static void changes_at_exit(void)
{
    char title[96];
    size_t tn = 0;
#define ADD(str) do { const char *s_ = (str); while (*s_ && tn < sizeof title - 1) title[tn++] = *s_++; } while (0)
    ADD("heap changes since ");
    if (_mg_opt.changes_signal) {
        char num[4] = {0};
        int v = _mg_opt.changes_signal, k = v >= 10 ? 2 : 1;
        for (int i = k - 1; i >= 0; i--, v /= 10) num[i] = (char)('0' + v % 10);
        ADD("signal ");
        ADD(num);
    } else {
        ADD("start-up");
    }
    ADD(", by allocation site");
    title[tn] = 0;
#undef ADD
    if (in_fork_child) return;
    sigset_t old;
    lock_quiet(&baseline_lock, &old);
    mg_snapshot_t *s = baseline;
    if (!s) {
        unlock_loud(&baseline_lock, &old);
        if (_mg_opt.changes_signal) _mg_warn2(title, ": no snapshot was taken (the signal never arrived)");
        return;
    }
    size_t n = mg_snapshot_changes(s, NULL, NULL, 0);
    size_t bytes = n * sizeof(mg_change_t) + (n + 1) * sizeof(struct mg_site);
    mg_change_t *changes = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (changes == MAP_FAILED) { unlock_loud(&baseline_lock, &old); return; }
    struct mg_site *sites = (struct mg_site *)(changes + n);
    n = mg_snapshot_changes(s, NULL, changes, n);
    size_t nsites = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t off = _mg_offset_of((uintptr_t)changes[i].object, NULL);
        uint32_t id = 0;
        if (off < 0) continue;
        const struct mg_slot *sl = _mg_slot_for((uint64_t)off, &id);
        uint32_t stack = changes[i].kind == MG_CHANGE_FREED && id < s->nslots ? s->slots[id].alloc_stack
                       : sl ? sl->alloc_stack : 0;
        size_t k = 0;
        while (k < nsites && sites[k].stack != stack) k++;
        if (k == nsites) sites[nsites++] = (struct mg_site){.stack = stack};
        if (changes[i].kind == MG_CHANGE_WRITTEN) { sites[k].written++; sites[k].written_bytes += changes[i].length; }
        else if (changes[i].kind == MG_CHANGE_ALLOCATED) sites[k].allocated++;
        else sites[k].freed++;
    }
    unlock_loud(&baseline_lock, &old);
    _mg_report_sites(title, sites, nsites);
    munmap(changes, bytes);
}

/* Replaces the baseline with a snapshot of now. */
static void retake(void)
{
    mg_snapshot_t *s = mg_snapshot_take();
    if (!s) { _mg_warn("changes_at_exit: cannot take the snapshot"); return; }
    pthread_mutex_lock(&baseline_lock);
    mg_snapshot_t *old = baseline;
    baseline = s;
    pthread_mutex_unlock(&baseline_lock);
    if (old) mg_snapshot_release(old);
    if (_mg_opt.verbosity >= 1) _mg_warn("changes_at_exit: snapshot taken on the signal");
}

static void *retaker(void *arg)
{
    (void)arg;
    /* Started with every signal blocked, so never the thread the signal lands on (its handler
     * would wait for this very thread). */
    for (;;) {
        char b[16];
        ssize_t n = read(wake[0], b, sizeof b);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        unsigned long want = atomic_load(&requested);
        retake();
        atomic_store(&taken, want);
    }
}

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    if (in_fork_child) return;
    unsigned long mine = atomic_fetch_add(&requested, 1) + 1;
    char b = 1;
    if (write(wake[1], &b, 1) == 1) {
        struct timespec ms = {0, 1000000};
        for (int i = 0; i < 1000 && atomic_load(&taken) < mine; i++) nanosleep(&ms, NULL);
    }
    errno = saved;
}

void _mg_snapshot_at_start(void)
{
    if (!_mg_opt.changes_at_exit || baseline || wake[0] >= 0) return;
    int sig = _mg_opt.changes_signal;
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGTRAP || sig == SIGKILL || sig == SIGSTOP) {
        _mg_warn("changes_signal: that signal is not free to use (SIGSEGV, SIGBUS, SIGTRAP, SIGKILL, SIGSTOP); taking the snapshot at start-up instead");
        _mg_opt.changes_signal = sig = 0;
    }
    if (sig) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (pipe2(wake, O_CLOEXEC) != 0 || _mg_thread_start(retaker, NULL) != 0 ||
            _mg_real_sigaction(sig, &sa, NULL) != 0) {
            _mg_warn("changes_signal: cannot set up the signal handler; no snapshot will be taken");
        }
        /* Asked for by name, so it must arrive: a mask inherited from the parent may block it. */
        sigset_t unblock;
        sigemptyset(&unblock);
        sigaddset(&unblock, sig);
        pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
        atexit(changes_at_exit);
        return;
    }
    baseline = mg_snapshot_take();
    if (baseline) atexit(changes_at_exit);
    else _mg_warn("changes_at_exit: cannot take the start-up snapshot");
}

void _mg_snapshot_preserve(uint64_t off, size_t len)
{
    sigset_t old;
    lock_quiet(&lock, &old);
    for (size_t page = off >> _mg_arena.page_shift; page < pages_of(off + len); page++) preserve_page(page);
    unlock_loud(&lock, &old);
}

void _mg_snapshot_unprotect(uint64_t off, size_t len)
{
    /* MADV_GUARD_INSTALL does not replace a write-protect marker (it would wait for ever), so
     * pages about to be guarded lose their protection first; callers have preserved them. */
    if (uffd >= 0) (void)_mg_uffd_protect(off, len, 0);
}

void _mg_snapshots_forget(void)
{
    /* A fork child: its arena is a fresh mapping, unregistered, and the handler thread is the
     * parent's. The parent's snapshots stay mapped read-only but are not the child's to use. */
    nlive = 0;
    method = METHOD_NONE;
    in_fork_child = 1; /* no changes_at_exit summary from a child: the baseline is the parent's */
    baseline = NULL;
    pthread_mutex_init(&baseline_lock, NULL);
    if (uffd >= 0) close(uffd);
    uffd = -1;
    atomic_store(&_mg_snapshots_active, 0);
    pthread_mutex_init(&lock, NULL);
}

#pragma GCC visibility pop
