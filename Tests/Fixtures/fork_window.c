/* fork_window.c — a library, preloaded after libmirrorguard.so, whose fork handler runs after
 * MirrorGuard's and waits for a lock that a thread writing the heap holds.
 *
 * Preloaded last, it is initialized first, so its pthread_atfork prepare handler is registered
 * before MirrorGuard's and runs after it: once a lazy fork has write-protected the heap. The
 * handler lets its thread take a lock and write a malloc'd buffer (that write is held by the
 * protection), then takes the same lock itself. glibc's own fork does the same when another
 * thread holds its NSS lock while writing the heap. Until the held write goes on, the fork is
 * never made: MirrorGuard must see that and unprotect. Any forking program can host it; the
 * tests use fork_heap. At exit it says how long the write waited: "long" (100 ms or more) where
 * the heap was protected. Built with -shared -fPIC. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static atomic_int go, locked;
static volatile char *buffer;
static atomic_long longest_ms;
static pid_t parent;

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *writer(void *arg)
{
    (void)arg;
    for (;;) {
        while (!atomic_load(&go)) {
            struct timespec t = {0, 1000000};
            nanosleep(&t, NULL);
        }
        pthread_mutex_lock(&held);
        atomic_store(&locked, 1);
        long t0 = now_ms();
        buffer[0]++; /* waits while the heap is protected */
        long took = now_ms() - t0;
        if (took > atomic_load(&longest_ms)) atomic_store(&longest_ms, took);
        atomic_store(&go, 0);
        pthread_mutex_unlock(&held);
    }
    return NULL;
}

static void prepare(void)
{
    atomic_store(&locked, 0);
    atomic_store(&go, 1);
    while (!atomic_load(&locked)) { /* the writer takes the lock, then writes */
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    pthread_mutex_lock(&held);    /* and this waits for it */
    pthread_mutex_unlock(&held);
}

__attribute__((destructor)) static void report(void)
{
    if (getpid() == parent)
        fprintf(stderr, "fork_window: the held write waited %s\n", atomic_load(&longest_ms) >= 100 ? "long" : "short");
}

__attribute__((constructor)) static void start(void)
{
    parent = getpid();
    buffer = malloc(64);
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    pthread_atfork(prepare, NULL, NULL);
}
