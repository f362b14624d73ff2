/*
 * arena.c — the arena file and its two views.
 *
 * One file (a memfd, else a POSIX shm object, else an unlinked temporary file) is mapped twice
 * with MAP_SHARED inside one reservation: the read-only view at `ro` and the writable view at
 * `rw = ro + reserve`. Both views are reserved once at their full size, far larger than the
 * file; the file grows with ftruncate only, so no pointer ever moves, and pages past its end
 * raise SIGBUS (reported as arena-bus-error). A memfd is sealed against shrinking, so nobody can
 * pull pages out from under live objects.
 *
 * Guard pages are made per view, both views at once: with MADV_GUARD_INSTALL where the kernel
 * supports it on this file (page-table markers, no VMA each, Linux 6.13+ and later for shmem),
 * else with mprotect, which splits VMAs and so limits how many objects can be live.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif

#pragma GCC visibility push(hidden)

struct mg_arena _mg_arena = {.fd = -1};

/* Growth happens in steps of this many bytes, so ftruncate is rare. */
#define GROW_STEP ((size_t)64 << 20)

static int open_memfd(void)
{
    int fd = memfd_create("mirrorguard-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    /* Nobody may shrink the file under live objects; punching holes is still allowed. */
    (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
    return fd;
}

static int open_shm(void)
{
    char name[64];
    for (int attempt = 0; attempt < 16; attempt++) {
        snprintf(name, sizeof name, "/mirrorguard-%d-%d", (int)getpid(), attempt);
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            shm_unlink(name);
            return fd;
        }
        if (errno != EEXIST) return -1;
    }
    return -1;
}

static int open_tmpfile(void)
{
    const char *dirs[] = {getenv("TMPDIR"), "/dev/shm", "/tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i] || !*dirs[i]) continue;
        int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0) return fd;
        char path[512];
        snprintf(path, sizeof path, "%s/mirrorguard-XXXXXX", dirs[i]);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0) {
            unlink(path);
            return fd;
        }
    }
    return -1;
}

static int open_backing(int wanted, int *used)
{
    static int (*const openers[])(void) = {NULL, open_memfd, open_shm, open_tmpfile};
    if (wanted != MG_BACKING_AUTO) {
        *used = wanted;
        return openers[wanted]();
    }
    for (int b = MG_BACKING_MEMFD; b <= MG_BACKING_TMPFILE; b++) {
        int fd = openers[b]();
        if (fd >= 0) {
            *used = b;
            return fd;
        }
    }
    return -1;
}

/* Does MADV_GUARD_INSTALL work on this file's mappings? Try it on page 0, which is the arena's
 * leading guard page anyway (the underflow guard of the first slot). */
static int probe_madvise_guard(void)
{
    if (madvise((void *)_mg_arena.ro, _mg_arena.page, MADV_GUARD_INSTALL) != 0) return 0;
    if (madvise((void *)_mg_arena.rw, _mg_arena.page, MADV_GUARD_INSTALL) != 0) {
        (void)madvise((void *)_mg_arena.ro, _mg_arena.page, MADV_GUARD_REMOVE);
        return 0;
    }
    return 1;
}

int _mg_arena_init(void)
{
    struct mg_arena *a = &_mg_arena;
    a->page = (size_t)sysconf(_SC_PAGESIZE);
    a->page_shift = (unsigned)__builtin_ctzl(a->page);
    a->reserve = (size_t)_mg_opt.arena_gb << 30;

    int fd = open_backing(_mg_opt.backing, &a->backing);
    if (fd < 0) return errno ? errno : ENOMEM;

    /* One reservation for both views keeps them a fixed distance apart. */
    char *base = mmap(NULL, 2 * a->reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        close(fd);
        return ENOMEM;
    }
    if (mmap(base, a->reserve, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
        mmap(base + a->reserve, a->reserve, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
        int err = errno;
        munmap(base, 2 * a->reserve);
        close(fd);
        return err == ENOMEM ? ENOMEM : err;
    }
    a->fd = fd;
    a->rw = (uintptr_t)base + a->reserve;
    if (_mg_arena_grow(a->page) != 0) {
        munmap(base, 2 * a->reserve);
        close(fd);
        a->fd = -1;
        return ENOMEM;
    }
    a->ro = (uintptr_t)base; /* published last: _mg_offset_of treats ro == 0 as "no arena" */

    int madv = _mg_opt.guard != MG_GUARD_MPROTECT && probe_madvise_guard();
    if (_mg_opt.guard == MG_GUARD_MADVISE && !madv)
        _mg_warn("guard=madvise: MADV_GUARD_INSTALL does not work on this kernel or file; using mprotect");
    a->guard_madvise = madv;
    if (!madv && _mg_arena_guard(0, a->page, 1) != 0) return ENOMEM;
    return 0;
}

/* Callers serialize growth: start-up runs before the arena is published, and slots.c grows it
 * only under its metadata lock. file_size is atomic because readers (snapshots, fork) take no
 * lock. */
int _mg_arena_grow(size_t bytes)
{
    if (bytes <= atomic_load_explicit(&_mg_arena.file_size, memory_order_acquire)) return 0;
    if (bytes > _mg_arena.reserve) return ENOMEM;
    int err = 0;
    size_t cur = atomic_load_explicit(&_mg_arena.file_size, memory_order_relaxed);
    if (bytes > cur) {
        size_t want = (bytes + GROW_STEP - 1) / GROW_STEP * GROW_STEP;
        if (want > _mg_arena.reserve) want = _mg_arena.reserve;
        /* A failed step (RLIMIT_FSIZE, a full tmpfs) may still allow the exact size. */
        if (ftruncate(_mg_arena.fd, (off_t)want) != 0) {
            want = bytes;
            if (ftruncate(_mg_arena.fd, (off_t)want) != 0) err = ENOMEM;
        }
        if (!err) atomic_store_explicit(&_mg_arena.file_size, want, memory_order_release);
    }
    return err;
}

int _mg_arena_guard(uint64_t off, size_t len, int on)
{
    void *ro = (void *)(_mg_arena.ro + off), *rw = (void *)(_mg_arena.rw + off);
    if (on && atomic_load(&_mg_snapshots_active)) _mg_snapshot_unprotect(off, len);
    if (_mg_arena.guard_madvise) {
        int advice = on ? MADV_GUARD_INSTALL : MADV_GUARD_REMOVE;
        if (madvise(ro, len, advice) != 0 || madvise(rw, len, advice) != 0) return errno;
        return 0;
    }
    if (mprotect(ro, len, on ? PROT_NONE : PROT_READ) != 0 ||
        mprotect(rw, len, on ? PROT_NONE : PROT_READ | PROT_WRITE) != 0)
        return errno == ENOMEM ? ENOMEM : errno;
    return 0;
}

/* Guards many ranges at once: with process_madvise(2) on our own process, one call per view
 * per 256 ranges; one madvise per range where that is refused. 0 or errno. */
int _mg_arena_guard_many(const uint64_t *off, const size_t *len, size_t n)
{
    if (!_mg_arena.guard_madvise) {
        for (size_t i = 0; i < n; i++) {
            int err = _mg_arena_guard(off[i], len[i], 1);
            if (err) return err;
        }
        return 0;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    for (size_t done = 0; done < n;) {
        struct iovec ro[256], rw[256];
        size_t k = 0, bytes = 0;
        for (; k < 256 && done + k < n; k++) {
            ro[k] = (struct iovec){(void *)(_mg_arena.ro + off[done + k]), len[done + k]};
            rw[k] = (struct iovec){(void *)(_mg_arena.rw + off[done + k]), len[done + k]};
            bytes += len[done + k];
        }
        if (pidfd < 0 || syscall(SYS_process_madvise, pidfd, ro, k, MADV_GUARD_INSTALL, 0) != (long)bytes ||
            syscall(SYS_process_madvise, pidfd, rw, k, MADV_GUARD_INSTALL, 0) != (long)bytes) {
            for (size_t i = 0; i < k; i++) {
                if (madvise(ro[i].iov_base, ro[i].iov_len, MADV_GUARD_INSTALL) != 0 ||
                    madvise(rw[i].iov_base, rw[i].iov_len, MADV_GUARD_INSTALL) != 0) {
                    int err = errno;
                    if (pidfd >= 0) close(pidfd);
                    return err;
                }
            }
        }
        done += k;
    }
    if (pidfd >= 0) close(pidfd);
    return 0;
}

int _mg_arena_open_page(uint64_t off, enum mg_view view)
{
    void *p = (void *)(_mg_addr(off & ~(uint64_t)(_mg_arena.page - 1), view));
    if (_mg_arena.guard_madvise) (void)madvise(p, _mg_arena.page, MADV_GUARD_REMOVE);
    /* A write through the read-only view can only complete if that page becomes writable. */
    return mprotect(p, _mg_arena.page, PROT_READ | PROT_WRITE) == 0 ? 0 : errno;
}

/* Gives the physical pages of [off, off + len) back: punched out of the file, they read as zero.
 * A file that cannot be punched (a temporary file on a file system without hole punching;
 * MADV_REMOVE is the same call inside the kernel) gets zeros written over its data instead, so
 * a reused slot still comes back zero, only not smaller. 0, or -1 when neither worked. */
int _mg_arena_release(uint64_t off, size_t len)
{
    if (fallocate(_mg_arena.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) return 0;
    static uint8_t zeros[1 << 16];
    off_t pos = (off_t)off, end = (off_t)(off + len);
    while (pos < end) {
        off_t data = lseek(_mg_arena.fd, pos, SEEK_DATA);
        if (data < 0) data = errno == ENXIO ? end : pos; /* ENXIO: only a hole remains */
        if (data >= end) break;
        off_t hole = lseek(_mg_arena.fd, data, SEEK_HOLE);
        if (hole < 0 || hole > end) hole = end;
        while (data < hole) {
            size_t n = (size_t)(hole - data) < sizeof zeros ? (size_t)(hole - data) : sizeof zeros;
            ssize_t w = pwrite(_mg_arena.fd, zeros, n, data);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return -1;
            data += w;
        }
        pos = hole;
    }
    return 0;
}

#pragma GCC visibility pop

/* ---- fork: a private copy of the file for the child (used by fork.c) ---------------------- */

#pragma GCC visibility push(hidden)

/* Copies the data of [from, to) of the arena file into fd at the same offsets; holes stay
 * holes. Reads through the descriptor, never the views, so guards don't matter. 0 or -1. */
int _mg_arena_copy_range(int fd, uint64_t from, uint64_t to)
{
    off_t pos = (off_t)from, end = (off_t)to;
    while (pos < end) {
        off_t data = lseek(_mg_arena.fd, pos, SEEK_DATA);
        if (data < 0 || data >= end) break; /* ENXIO: only a hole remains */
        off_t hole = lseek(_mg_arena.fd, data, SEEK_HOLE);
        if (hole < 0 || hole > end) hole = end;
        off_t in = data, out = data;
        while (in < hole) {
            ssize_t n = copy_file_range(_mg_arena.fd, &in, fd, &out, (size_t)(hole - in), 0);
            if (n > 0) continue;
            /* No copy_file_range between these files: copy through a buffer. */
            static char buf[1 << 16];
            ssize_t r = pread(_mg_arena.fd, buf, sizeof buf < (size_t)(hole - in) ? sizeof buf : (size_t)(hole - in), in);
            if (r <= 0 || pwrite(fd, buf, (size_t)r, out) != r) return -1;
            in += r;
            out += r;
        }
        pos = hole;
    }
    return 0;
}

/* A new file of the same kind holding what live objects hold (slots.c knows which pages those
 * are). Returns the descriptor, or -1. */
int _mg_arena_clone_file(void)
{
    int unused;
    int fd = open_backing(_mg_arena.backing, &unused);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)atomic_load(&_mg_arena.file_size)) != 0 || _mg_slots_copy_live(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Maps `fd` over both views in place of the shared file (in a fork child). */
int _mg_arena_adopt(int fd, int fresh)
{
    /* fresh: the views are not mapped (a copy-mode fork child); nothing else may be there. */
    int how = MAP_SHARED | (fresh ? MAP_FIXED_NOREPLACE : MAP_FIXED);
    if (mmap((void *)_mg_arena.ro, _mg_arena.reserve, PROT_READ, how, fd, 0) == MAP_FAILED ||
        mmap((void *)_mg_arena.rw, _mg_arena.reserve, PROT_READ | PROT_WRITE, how, fd, 0) == MAP_FAILED)
        return errno;
    close(_mg_arena.fd);
    _mg_arena.fd = fd;
    return 0;
}

/* A copy-mode fork leaves both views out of the child (on=1 in prepare, 0 after). */
int _mg_arena_keep_from_fork(int on)
{
    return madvise((void *)_mg_arena.ro, 2 * _mg_arena.reserve, on ? MADV_DONTFORK : MADV_DOFORK) == 0 ? 0 : errno;
}

#pragma GCC visibility pop
