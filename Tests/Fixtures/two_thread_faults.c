/* Two threads write through read-only views at the same moment (on_error=continue): two whole
 * reports, never interleaved, each naming its own writer. */
#include <mirrorguard.h>
#include <pthread.h>
#include <stdio.h>

static pthread_barrier_t barrier;
static int *objs[2];

__attribute__((noinline)) static void first_writer(int *p) { *p = 1; }
__attribute__((noinline)) static void second_writer(int *p) { *p = 2; }

static void *thread_main(void *arg)
{
    long i = (long)arg;
    pthread_barrier_wait(&barrier);
    if (i == 0) first_writer(objs[0]);
    else second_writer(objs[1]);
    return NULL;
}

int main(void)
{
    pthread_t t[2];
    objs[0] = mg_alloc(sizeof(int));
    objs[1] = mg_alloc(sizeof(int));
    pthread_barrier_init(&barrier, NULL, 2);
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, thread_main, (void *)i);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    printf("values %d %d, reports %lu\n", *objs[0], *objs[1], mg_report_count());
    return 0;
}
