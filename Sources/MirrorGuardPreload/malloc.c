/*
 * malloc.c — the malloc family, served from MirrorGuard's arena.
 *
 * Every object gets its own guarded slot (slots.c) and is returned as its writable view, so
 * mg_ro(malloc(n)) is its read-only alias. glibc's contracts are kept: errno is ENOMEM on
 * failure, calloc checks its multiplication and returns zeroed memory, realloc(p, 0) frees,
 * posix_memalign returns EINVAL for a bad alignment without touching errno, malloc(0) returns
 * a unique pointer.
 *
 * In sample mode (mode=sample), one allocation in sample_rate on average gets a guarded slot,
 * chosen by a per-thread countdown reset to a random value, as GWP-ASan does; the others go to
 * glibc's own allocator (__libc_malloc and friends, which libc exports for this purpose). free,
 * realloc and malloc_usable_size tell the two apart by address: the arena is one range. At most
 * sample_slots guarded objects are live at once; past that, allocations go to glibc.
 *
 * Bootstrapping needs no dlsym: while MirrorGuard starts (inside the process's first malloc),
 * a thread that re-enters malloc is served from a small static bump arena whose blocks are
 * never reused; free ignores them. If the arena cannot be created at all, allocations go to
 * glibc's allocator so the program still runs, unguarded, after a warning.
 */
#include <dlfcn.h>
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

#pragma GCC visibility push(hidden)

/* ---- The bootstrap arena ------------------------------------------------------------------ */

static _Alignas(64) unsigned char boot[1 << 18];
static _Atomic size_t boot_used;

static int in_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

/* Blocks carry their size in the 16 bytes before them, for realloc. Space is claimed with a
 * compare-and-swap, so a request that does not fit leaves the arena as it was. */
void *_mg_boot_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    if (size > sizeof boot || align > sizeof boot) { errno = ENOMEM; return NULL; }
    size_t total = size + 16 + align;
    size_t start = atomic_load(&boot_used);
    do {
        if (start + total > sizeof boot) { errno = ENOMEM; return NULL; }
    } while (!atomic_compare_exchange_weak(&boot_used, &start, start + total));
    uintptr_t p = ((uintptr_t)boot + start + 16 + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)p)[-1] = size;
    return (void *)p;
}

/* ---- Routing ------------------------------------------------------------------------------ */

static MG_TLS long countdown;    /* allocations until this thread's next sample */
static MG_TLS uint64_t rng;

/* A random gap with mean sample_rate: uniform in [1, 2 * sample_rate - 1]. */
static long next_gap(void)
{
    if (MG_UNLIKELY(rng == 0)) rng = ((uint64_t)_mg_gettid() << 32) ^ (uint64_t)(uintptr_t)&rng ^ 0x9E3779B97F4A7C15ull;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    long rate = _mg_opt.sample_rate;
    return rate <= 1 ? 1 : 1 + (long)(rng % (uint64_t)(2 * rate - 1));
}

enum mg_route _mg_route_alloc(void)
{
    if (MG_UNLIKELY(!_mg_started()) && !_mg_ready()) return errno == EAGAIN ? MG_TO_BOOT : MG_TO_SYSTEM;
    /* A lazily forked child may not touch the arena yet (fork.c): its allocations go to a
     * private region, or in sample mode to glibc with the unsampled ones. */
    if (MG_UNLIKELY(_mg_fork_child_pending)) return _mg_opt.mode == MG_MODE_SAMPLE ? MG_TO_SYSTEM : MG_TO_FORK;
    if (MG_LIKELY(_mg_opt.mode == MG_MODE_GUARD)) return MG_TO_ARENA;
    if (MG_LIKELY(--countdown > 0)) return MG_TO_SYSTEM;
    countdown = next_gap();
    return _mg_slots_live() < (size_t)_mg_opt.sample_slots ? MG_TO_ARENA : MG_TO_SYSTEM;
}

enum mg_route _mg_route_free(const void *p)
{
    if (_mg_offset_of((uintptr_t)p, NULL) >= 0) return MG_TO_ARENA;
    if (in_boot(p)) return MG_TO_BOOT;
    if (MG_UNLIKELY(_mg_fork_owns(p))) return MG_TO_FORK;
    /* In guard mode every heap object is ours: anything else is a bad free to report. */
    return (_mg_opt.mode == MG_MODE_SAMPLE || !_mg_ready()) ? MG_TO_SYSTEM : MG_TO_ARENA;
}

void *_mg_system_alloc(size_t size, size_t align, int zero)
{
    if (align <= 16) return zero ? __libc_calloc(1, size) : __libc_malloc(size);
    void *p = __libc_memalign(align, size);
    if (p && zero) memset(p, 0, size);
    return p;
}

void _mg_system_free(void *p)
{
    __libc_free(p);
}

/* glibc exports no __libc_ name for malloc_usable_size: its own is found once, by the preload's
 * constructor (never from inside an allocator call, where dlsym could take the loader's lock). */
static size_t (*glibc_usable)(void *);

void _mg_resolve_system(void)
{
    glibc_usable = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
}

static size_t system_usable_size(void *p)
{
    return glibc_usable ? glibc_usable(p) : 0;
}

/* ---- Shared entry logic ------------------------------------------------------------------- */

static void *do_alloc(size_t size, size_t align, int zero, uintptr_t ra)
{
    switch (_mg_route_alloc()) {
    case MG_TO_ARENA: return _mg_allocate(size, align, MG_FAMILY_MALLOC, MG_VIEW_RW, zero, ra);
    case MG_TO_BOOT: return _mg_boot_alloc(size, align); /* static memory is zero already */
    case MG_TO_FORK: {
        void *p = _mg_fork_alloc(size, align);             /* fresh anonymous memory: zero */
        if (p) return p;
        return _mg_allocate(size, align, MG_FAMILY_MALLOC, MG_VIEW_RW, zero, ra);
    }
    default: return _mg_system_alloc(size, align, zero);
    }
}

static void do_free(void *p, uintptr_t ra)
{
    if (!p) return;
    switch (_mg_route_free(p)) {
    case MG_TO_ARENA: _mg_deallocate(p, MG_FAMILY_MALLOC, ra); return;
    case MG_TO_BOOT: case MG_TO_FORK: return;
    default: __libc_free(p);
    }
}

static size_t usable(void *p)
{
    if (!p) return 0;
    switch (_mg_route_free(p)) {
    case MG_TO_ARENA: {
        const struct mg_slot *s = _mg_live_object(p);
        return s ? s->size : 0;
    }
    case MG_TO_BOOT: case MG_TO_FORK: return ((size_t *)p)[-1];
    default: return system_usable_size(p);
    }
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
    /* Sample mode's fast path: most calls only count down and go to glibc. */
    if (MG_LIKELY(_mg_opt.mode == MG_MODE_SAMPLE && countdown > 1 && _mg_started())) {
        countdown--;
        return __libc_malloc(size);
    }
    return do_alloc(size, 0, 0, RA());
}

ENTRY void free(void *p)
{
    if (MG_LIKELY(_mg_opt.mode == MG_MODE_SAMPLE && !_mg_in_arena(p) && !in_boot(p) && _mg_started())) {
        __libc_free(p);
        return;
    }
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
    switch (_mg_route_free(p)) {
    case MG_TO_BOOT:
    case MG_TO_FORK:
        old = ((size_t *)p)[-1];
        break;
    case MG_TO_SYSTEM:
        return __libc_realloc(p, size); /* not sampled: it stays with glibc */
    default: {
        const struct mg_slot *s = _mg_live_object(p);
        if (!s) { do_free(p, ra); return NULL; } /* reports the double or invalid free */
        old = s->size;
    }
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
