/* fork_window.c — a library, preloaded after libmirrorguard.so, whose fork handler runs after
 * MirrorGuard's and waits for a lock that a thread writing the heap holds.
 *
 * Preloaded last, it is initialized first, so its pthread_atfork prepare handler is registered
 * before MirrorGuard's and runs after it: once a lazy fork has write-protected the heap. The
 * handler lets its thread take a lock and write a malloc'd buffer (that write is held by the
 * protection), then takes the same lock itself. glibc's own fork does the same when another
 * thread holds its NSS lock while writing the heap. Until the held write goes on, the fork is
 * never made: MirrorGuard must see that and unprotect. Any forking program can host it; the
 * tests use fork_heap. Built with -shared -fPIC. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static atomic_int go;
static volatile char *buffer;

static void *writer(void *arg)
{
    (void)arg;
    for (;;) {
        while (!atomic_load(&go)) {
            struct timespec t = {0, 1000000};
            nanosleep(&t, NULL);
        }
        pthread_mutex_lock(&held);
        buffer[0]++; /* waits while the heap is protected */
        atomic_store(&go, 0);
        pthread_mutex_unlock(&held);
    }
    return NULL;
}

static void prepare(void)
{
    atomic_store(&go, 1);
    struct timespec t = {0, 20 * 1000000};
    nanosleep(&t, NULL);          /* the writer takes the lock and stops on its write */
    pthread_mutex_lock(&held);    /* and this waits for it */
    pthread_mutex_unlock(&held);
}

__attribute__((constructor)) static void start(void)
{
    buffer = malloc(64);
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    pthread_atfork(prepare, NULL, NULL);
}
