/* Every mg_ call on a correct program; prints what it saw. Run under each backing and guard
 * method, the output must be the same. */
#include <errno.h>
#include <mirrorguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) { printf("FAILED: %s (line %d)\n", #cond, __LINE__); return 1; } } while (0)

int main(void)
{
    const char *ro = mg_alloc(100);
    CHECK(ro != NULL);
    for (int i = 0; i < 100; i++) CHECK(ro[i] == 0);               /* zeroed */
    char *rw = mg_unprotect(ro);
    CHECK(rw != NULL && (const void *)rw != (const void *)ro);
    strcpy(rw, "mirrored");
    CHECK(mg_protect(rw) == ro);
    CHECK(strcmp(ro, "mirrored") == 0);                            /* same pages, two views */
    CHECK(mg_rw(ro) == rw && mg_rw(rw) == rw && mg_rw(mg_rw(ro)) == rw);
    CHECK(mg_ro(rw) == ro && mg_ro(ro) == ro && mg_ro(mg_ro(rw)) == ro);
    CHECK(mg_size(ro) == 100 && mg_size(rw) == 100 && mg_size(ro + 1) == 0);
    /* Placement: by default 16-aligned and as close to the trailing guard page as that allows;
     * alignment=1 ends exactly at the guard; protect_below=1 starts right after a guard. */
    const char *opts = getenv("MIRRORGUARD_OPTIONS");
    uintptr_t at = (uintptr_t)ro, page = 4096;
    if (opts && strstr(opts, "protect_below=1")) CHECK(at % page == 0);
    else if (opts && strstr(opts, "alignment=1")) CHECK((at + 100) % page == 0);
    else CHECK(at % 16 == 0 && (at + 112) % page == 0);

    /* Nested write sections on one thread. */
    char *a = mg_unprotect(ro), *b = mg_unprotect(ro);
    a[0] = 'M';
    b[1] = 'I';
    mg_protect(b);
    mg_protect(a);
    CHECK(ro[0] == 'M' && ro[1] == 'I');

    /* Foreign pointers: NULL, never dereferenced. */
    int local;
    void *heap = malloc(8);
    CHECK(mg_rw(&local) == NULL && mg_ro(&local) == NULL && mg_rw(NULL) == NULL);
    errno = 0;
    CHECK(mg_unprotect(&local) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(mg_protect((void *)0x10) == NULL && errno == EINVAL);
    CHECK(mg_size(&local) == 0);
    free(heap);

    /* Huge sizes fail cleanly. */
    errno = 0;
    CHECK(mg_alloc((size_t)-1) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(mg_alloc((size_t)1 << 62) == NULL && errno == ENOMEM);

    /* Zero-size objects are unique. */
    const void *z1 = mg_alloc(0), *z2 = mg_alloc(0);
    CHECK(z1 && z2 && z1 != z2);
    mg_free(z1);
    mg_free(z2);

    /* Freed and recycled objects come back zeroed. */
    size_t live = mg_live_objects();
    for (int round = 0; round < 3; round++) {
        const void *objs[64];
        for (int i = 0; i < 64; i++) {
            objs[i] = mg_alloc(4000);
            CHECK(objs[i] != NULL);
            CHECK(((const char *)objs[i])[0] == 0 && ((const char *)objs[i])[3999] == 0);
            memset(mg_rw(objs[i]), 0xff, 4000);
        }
        for (int i = 0; i < 64; i++) mg_free(mg_rw(objs[i])); /* either view frees */
    }
    CHECK(mg_live_objects() == live);
    mg_free(ro);
    mg_free(NULL);
    printf("backing %s guard %s\n", mg_backing(), mg_guard_method());
    printf("ok\n");
    return mg_report_count() == 0 ? 0 : 1;
}
