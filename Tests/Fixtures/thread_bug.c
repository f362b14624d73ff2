/* A heap overflow in a second thread: heap-buffer-overflow in worker_overflow, allocated in
 * main's thread. */
#include <pthread.h>
#include <stdlib.h>

static int *shared;

__attribute__((noinline)) static void worker_overflow(int *p) { p[8] = 1; }

static void *worker(void *arg)
{
    (void)arg;
    worker_overflow(shared);
    return NULL;
}

int main(void)
{
    shared = calloc(8, sizeof(int));
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    return 0;
}
