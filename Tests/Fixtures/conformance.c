/* glibc malloc behaviours that conformance tests check. Prints one line per case; the output
 * under the preload must equal the output with glibc's own malloc. */
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(const char *what, const void *p, int err)
{
    printf("%-44s %s errno=%s\n", what, p ? "ptr" : "NULL",
           err == 0 ? "0" : err == ENOMEM ? "ENOMEM" : err == EINVAL ? "EINVAL" : "other");
}
#define CASE(what, expr) do { errno = 0; void *p_ = (expr); show(what, p_, errno); } while (0)
#define ALIGNED(p, a) (((uintptr_t)(p) & ((a) - 1)) == 0)

int main(void)
{
    CASE("malloc(SIZE_MAX)", malloc(SIZE_MAX));
    CASE("malloc(PTRDIFF_MAX)", malloc(PTRDIFF_MAX));
    CASE("calloc(SIZE_MAX, 2)", calloc(SIZE_MAX, 2));
    CASE("calloc(1 << 62, 4)", calloc((size_t)1 << 62, 4));
    CASE("reallocarray(NULL, SIZE_MAX, 2)", reallocarray(NULL, SIZE_MAX, 2));
    CASE("realloc(NULL, 10)", realloc(NULL, 10));
    void *r = malloc(10);
    CASE("realloc(p, SIZE_MAX)", realloc(r, SIZE_MAX));
    printf("old block still usable after failed realloc: %d\n", malloc_usable_size(r) >= 10);
    errno = 0;
    void *z = realloc(r, 0);
    printf("realloc(p, 0) frees and returns %s\n", z ? "ptr" : "NULL");
    free(z);
    CASE("memalign(SIZE_MAX/2+2, 8)", memalign(SIZE_MAX / 2 + 2, 8));
    CASE("aligned_alloc(64, 100)", aligned_alloc(64, 100));
    void *m0 = malloc(0), *m1 = malloc(0);
    printf("malloc(0) unique non-NULL: %d\n", m0 && m1 && m0 != m1);
    free(m0);
    free(m1);
    printf("malloc_usable_size(NULL) = %zu\n", malloc_usable_size(NULL));
    free(NULL);

    void *p = (void *)1;
    int saved;
    errno = 12345;
    int rc = posix_memalign(&p, 3, 10);
    saved = errno;
    printf("posix_memalign(align 3) = %s, errno untouched %d, out untouched %d\n",
           rc == EINVAL ? "EINVAL" : "other", saved == 12345, p == (void *)1);
    rc = posix_memalign(&p, 0, 10);
    printf("posix_memalign(align 0) = %s\n", rc == EINVAL ? "EINVAL" : "other");
    rc = posix_memalign(&p, sizeof(void *) / 2, 10);
    printf("posix_memalign(align sizeof(void*)/2) = %s\n", rc == EINVAL ? "EINVAL" : "other");
    rc = posix_memalign(&p, 8, SIZE_MAX);
    printf("posix_memalign(8, SIZE_MAX) = %s\n", rc == ENOMEM ? "ENOMEM" : "other");
    for (size_t a = sizeof(void *); a <= 65536; a *= 2) {
        rc = posix_memalign(&p, a, 24);
        if (rc != 0 || !ALIGNED(p, a)) printf("posix_memalign(%zu) misaligned\n", a);
        free(p);
    }
    for (size_t a = 1; a <= 65536; a *= 2) {
        void *q = memalign(a, 24), *s = aligned_alloc(a, a * 2);
        if (!q || !ALIGNED(q, a) || !s || !ALIGNED(s, a)) printf("memalign/aligned_alloc(%zu) misaligned\n", a);
        free(q);
        free(s);
    }
    void *v = valloc(1), *pv = pvalloc(0);
    printf("valloc page-aligned %d, pvalloc(0) page-aligned %d\n", v && ALIGNED(v, 4096), pv && ALIGNED(pv, 4096));
    printf("pvalloc(1) usable >= 4096: %d\n", malloc_usable_size(pv = pvalloc(1)) >= 4096);
    free(v);
    free(pv);
    return 0;
}
