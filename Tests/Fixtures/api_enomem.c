/* A failed growth of the arena file gives NULL with ENOMEM and leaves the arena intact.
 * RLIMIT_FSIZE makes ftruncate fail past 256 MiB, as a full tmpfs or a memory cgroup would. */
#include <errno.h>
#include <mirrorguard.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

int main(void)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {(rlim_t)256 << 20, (rlim_t)256 << 20};
    setrlimit(RLIMIT_FSIZE, &rl);
    const char *first = mg_alloc(64);
    *(char *)mg_unprotect(first) = 'x';
    mg_protect(first);
    int n = 0;
    const void *p;
    while ((p = mg_alloc((size_t)1 << 20)) != NULL) n++;
    int err = errno;
    printf("allocated %s, then %s\n", n > 100 && n < 256 ? "some" : "a wrong number", err == ENOMEM ? "ENOMEM" : "another error");
    printf("first object %s\n", first[0] == 'x' ? "intact" : "damaged");
    const char *small = mg_alloc(16);
    printf("small allocation after failure: %s\n", small || errno == ENOMEM ? "handled" : "broken");
    return 0;
}
