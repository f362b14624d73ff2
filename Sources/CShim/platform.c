/*
 * platform.c — the few libc and kernel calls the core needs, behind small wrappers.
 *
 * Everything here is async-signal-safe: raw syscalls and no allocation, so reports, the fault
 * handler and start-up inside the first malloc can all use it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mg_internal.h"

/* glibc's own sigaction, exported under this name too; calling it bypasses the interposer in
 * fault.c without dlsym. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#pragma GCC visibility push(hidden)

/* Cached per thread: allocation and free record it, and a syscall each time costs. fork.c
 * clears the cache in the child, whose only thread has a new id. */
static MG_TLS pid_t cached_tid;

pid_t _mg_gettid(void)
{
    if (MG_UNLIKELY(cached_tid == 0)) {
        cached_tid = (pid_t)syscall(SYS_gettid);
        _mg_follow_register(cached_tid); /* its CPU, for the snapshot handler (follow.c) */
    }
    return cached_tid;
}

static _Atomic int helpers; /* MirrorGuard's threads running in this process */

void _mg_forget_tid(void)
{
    cached_tid = 0;
    atomic_store(&helpers, 0); /* a fork child has only the thread that forked */
}

/* A number from /proc/self/status ("TracerPid", "Threads"), or `fallback`. No allocation. */
long _mg_proc_status(const char *field, long fallback)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fallback;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return fallback;
    buf[n] = 0;
    size_t len = strlen(field);
    for (const char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, field, len) == 0 && line[len] == ':') return strtol(line + len + 1, NULL, 10);
    return fallback;
}

/* Threads of the program's own: the process's, less MirrorGuard's. 1 if unknown. */
int _mg_program_threads(void)
{
    long count = _mg_proc_status("Threads", 1) - atomic_load(&helpers);
    return count > 0 ? (int)count : 1;
}

/* MirrorGuard's own threads (the snapshot handler, its watchdog, the changes_signal retaker)
 * block every signal: a signal meant for the program must run its handler on a program thread,
 * never on one that the program's heap writes may be waiting for. That includes SIGSEGV and the
 * like sent with kill(2): a handler of the program's writing the heap there would wait on its
 * own thread. Normal context. */
void _mg_signals_block(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

void _mg_signals_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

long long _mg_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

long _mg_now_ms(void)
{
    return (long)(_mg_now_ns() / 1000000);
}

int _mg_thread_start(void *(*fn)(void *), void *arg)
{
    sigset_t old;
    _mg_signals_block(&old);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &attr, fn, arg);
    if (!err) atomic_fetch_add(&helpers, 1);
    pthread_attr_destroy(&attr);
    _mg_signals_restore(&old);
    return err;
}

void _mg_write_all(int fd, const char *buf, size_t len)
{
    int saved = errno;
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    errno = saved;
}

void _mg_warn2(const char *a, const char *b)
{
    char line[512];
    size_t n = 0, la = strlen(a), lb = b ? strlen(b) : 0;
    static const char prefix[] = "MirrorGuard: ";
    memcpy(line, prefix, sizeof prefix - 1);
    n = sizeof prefix - 1;
    if (la > 240) la = 240;
    if (lb > 240) lb = 240;
    memcpy(line + n, a, la);
    n += la;
    if (b) { memcpy(line + n, b, lb); n += lb; }
    line[n++] = '\n';
    _mg_write_all(2, line, n);
}

void _mg_warn(const char *msg)
{
    _mg_warn2(msg, NULL);
}

int _mg_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return __sigaction(sig, act, old);
}

void _mg_die(int code)
{
    _exit(code);
}

void _mg_fatal(const char *what, int err)
{
    char num[16];
    int i = (int)sizeof num - 1;
    num[i] = 0;
    do { num[--i] = (char)('0' + err % 10); err /= 10; } while (err > 0 && i > 0);
    _mg_warn2("internal error: ", what);
    _mg_warn2("  errno ", num + i);
    _exit(70);
}

#pragma GCC visibility pop
