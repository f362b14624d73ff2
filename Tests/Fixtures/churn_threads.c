/* Four threads allocate, check and free objects at random, each object stamped with its
 * owner and index: any sharing or corruption between threads is caught. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE 500
#define OPS 20000

static int failures;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(long)arg * 7919u + 1;
    unsigned char *slot[LIVE] = {0};
    size_t size[LIVE] = {0};
    for (int op = 0; op < OPS; op++) {
        int i = (int)(rand_r(&seed) % LIVE);
        if (slot[i]) {
            for (size_t k = 0; k < size[i]; k++)
                if (slot[i][k] != (unsigned char)(i + (long)arg)) { __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED); break; }
            free(slot[i]);
        }
        size[i] = 1 + rand_r(&seed) % 300;
        slot[i] = malloc(size[i]);
        memset(slot[i], (unsigned char)(i + (long)arg), size[i]);
    }
    for (int i = 0; i < LIVE; i++) free(slot[i]);
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    printf("threads done, failures %d\n", failures);
    return failures != 0;
}
