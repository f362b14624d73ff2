/*
 * malloc.c — the malloc family, served from MirrorGuard's arena.
 *
 * Every object gets its own guarded slot (slots.c) and is returned as its writable view, so
 * mg_ro(malloc(n)) is its read-only alias. glibc's contracts are kept: errno is ENOMEM on
 * failure, calloc checks its multiplication and returns zeroed memory, realloc(p, 0) frees,
 * posix_memalign returns EINVAL for a bad alignment without touching errno, malloc(0) returns
 * a unique pointer.
 *
 * Bootstrapping needs no dlsym: while MirrorGuard starts (inside the process's first malloc),
 * a thread that re-enters malloc is served from a small static bump arena whose blocks are
 * never reused; free ignores them. If the arena cannot be created at all, allocations go to
 * glibc's own allocator (__libc_malloc and friends, exported by libc for this purpose) so the
 * program still runs, unguarded, after a warning.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_internal.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);
extern size_t __malloc_usable_size(void *) __attribute__((weak));

#pragma GCC visibility push(hidden)

/* ---- The bootstrap arena ------------------------------------------------------------------ */

static _Alignas(64) unsigned char boot[1 << 18];
static _Atomic size_t boot_used;

static int in_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

/* Blocks carry their size in the 16 bytes before them, for realloc. */
static void *boot_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    size_t total = size + 16 + align;
    size_t start = atomic_fetch_add(&boot_used, total);
    if (start + total > sizeof boot) { errno = ENOMEM; return NULL; }
    uintptr_t p = ((uintptr_t)boot + start + 16 + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)p)[-1] = size;
    return (void *)p;
}

/* 1: MirrorGuard serves this call; 0: the bootstrap arena; -1: glibc (no arena). */
static int route(void)
{
    if (MG_LIKELY(_mg_ready())) return 1;
    return errno == EAGAIN ? 0 : -1;
}

/* ---- Shared entry logic ------------------------------------------------------------------- */

static void *do_alloc(size_t size, size_t align, int zero, uintptr_t ra)
{
    switch (route()) {
    case 1: return _mg_allocate(size, align, MG_FAMILY_MALLOC, MG_VIEW_RW, zero, ra);
    case 0: return boot_alloc(size, align); /* static memory is zero already */
    default:
        if (align <= 16) return zero ? __libc_calloc(1, size) : __libc_malloc(size);
        void *p = __libc_memalign(align, size);
        if (p && zero) memset(p, 0, size);
        return p;
    }
}

static void do_free(void *p, uintptr_t ra)
{
    if (!p || in_boot(p)) return;
    if (_mg_offset_of((uintptr_t)p, NULL) < 0 && route() != 1) { __libc_free(p); return; }
    _mg_deallocate(p, MG_FAMILY_MALLOC, ra);
}

static size_t usable(void *p)
{
    if (!p) return 0;
    if (in_boot(p)) return ((size_t *)p)[-1];
    const struct mg_slot *s = _mg_live_object(p);
    if (s) return s->size;
    if (_mg_offset_of((uintptr_t)p, NULL) < 0 && route() != 1 && __malloc_usable_size) return __malloc_usable_size(p);
    return 0;
}

/* The nearest power of two at or above a (glibc's memalign does the same). */
static size_t round_align(size_t a)
{
    if (a <= 1) return 1;
    if (a > SIZE_MAX / 2 + 1) return 0;
    size_t p = 1;
    while (p < a) p <<= 1;
    return p;
}

static void *do_memalign(size_t align, size_t size, uintptr_t ra)
{
    size_t a = round_align(align);
    if (a == 0) { errno = EINVAL; return NULL; }
    return do_alloc(size, a, 0, ra);
}

#pragma GCC visibility pop

/* ---- The interposed calls ----------------------------------------------------------------- */

#define RA() ((uintptr_t)__builtin_return_address(0))
#define ENTRY MG_EXPORT __attribute__((noinline))

ENTRY void *malloc(size_t size)
{
    return do_alloc(size, 0, 0, RA());
}

ENTRY void free(void *p)
{
    do_free(p, RA());
}

ENTRY void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    return do_alloc(total, 0, 1, RA());
}

static void *do_realloc(void *p, size_t size, uintptr_t ra)
{
    if (!p) return do_alloc(size, 0, 0, ra);
    if (size == 0) { do_free(p, ra); return NULL; }
    size_t old;
    if (in_boot(p)) {
        old = ((size_t *)p)[-1];
    } else if (_mg_offset_of((uintptr_t)p, NULL) < 0 && route() != 1) {
        return __libc_realloc(p, size);
    } else {
        const struct mg_slot *s = _mg_live_object(p);
        if (!s) { do_free(p, ra); return NULL; } /* reports the double or invalid free */
        old = s->size;
    }
    /* Always move: the old block becomes inaccessible, so a stale pointer to it traps. */
    void *n = do_alloc(size, 0, 0, ra);
    if (!n) return NULL; /* the old block stays valid, as C requires */
    memcpy(n, p, old < size ? old : size);
    do_free(p, ra);
    return n;
}

ENTRY void *realloc(void *p, size_t size)
{
    return do_realloc(p, size, RA());
}

ENTRY void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    return do_realloc(p, total, RA());
}

ENTRY int posix_memalign(void **out, size_t align, size_t size)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0) return EINVAL;
    int saved = errno;
    void *p = do_alloc(size, align, 0, RA());
    int err = p ? 0 : errno;
    errno = saved;
    if (!p) return err == EINVAL ? EINVAL : ENOMEM;
    *out = p;
    return 0;
}

ENTRY void *aligned_alloc(size_t align, size_t size)
{
    return do_memalign(align, size, RA());
}

ENTRY void *memalign(size_t align, size_t size)
{
    return do_memalign(align, size, RA());
}

ENTRY void *valloc(size_t size)
{
    return do_memalign(4096, size, RA());
}

ENTRY void *pvalloc(size_t size)
{
    size_t rounded;
    if (__builtin_add_overflow(size, 4095, &rounded)) { errno = ENOMEM; return NULL; }
    rounded &= ~(size_t)4095;
    return do_memalign(4096, rounded ? rounded : 4096, RA());
}

ENTRY size_t malloc_usable_size(void *p)
{
    return usable(p);
}
