/*
 * cxx.c — C++'s operator new and delete, every form, written in C under their mangled names so
 * the library needs no C++ runtime.
 *
 * Each object records its family (new, new[], or malloc), and a delete of the wrong family is
 * reported as alloc-dealloc-mismatch (alloc_dealloc_mismatch=0 turns that off). In sample mode
 * only sampled objects carry a family; the rest are glibc's. A throwing new
 * that cannot allocate throws std::bad_alloc through libstdc++'s own thrower, found as a weak
 * symbol: any program that can call operator new has libstdc++ loaded.
 */
#include <errno.h>
#include <stdint.h>

#include "mg_internal.h"

extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

#pragma GCC visibility push(hidden)

static void *cxx_new(size_t size, size_t align, enum mg_family family, int nothrow, uintptr_t ra)
{
    enum mg_route route = _mg_route_alloc();
    void *p = route == MG_TO_FORK ? _mg_fork_alloc(size, align) : NULL; /* a lazily forked child */
    if (route == MG_TO_FORK && !p) route = MG_TO_ARENA;
    if (!p)
        p = route == MG_TO_ARENA ? _mg_allocate(size, align, family, MG_VIEW_RW, 0, ra)
          : route == MG_TO_BOOT  ? _mg_boot_alloc(size, align) /* delete finds it by address */
                                 : _mg_system_alloc(size, align, 0);
    if (p || nothrow) return p;
    if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
    _mg_fatal("operator new: out of memory and no C++ runtime to throw std::bad_alloc", ENOMEM);
}

static void cxx_delete(void *p, enum mg_family family, uintptr_t ra)
{
    if (!p) return;
    switch (_mg_route_free(p)) {
    case MG_TO_ARENA: _mg_deallocate(p, family, ra); return;
    case MG_TO_BOOT: case MG_TO_FORK: return;
    default: _mg_system_free(p);
    }
}

#pragma GCC visibility pop

#define RA() ((uintptr_t)__builtin_return_address(0))
#define ENTRY MG_EXPORT __attribute__((noinline))
#define NEW MG_FAMILY_NEW
#define ARR MG_FAMILY_NEW_ARRAY

/* Declarations keep -Wmissing-prototypes honest for these C-named C++ symbols. */
#define NEW_FORMS(X) \
    X(_Znwm, (size_t n), n, 0, NEW, 0) \
    X(_Znam, (size_t n), n, 0, ARR, 0) \
    X(_ZnwmRKSt9nothrow_t, (size_t n, const void *t), n, 0, NEW, 1) \
    X(_ZnamRKSt9nothrow_t, (size_t n, const void *t), n, 0, ARR, 1) \
    X(_ZnwmSt11align_val_t, (size_t n, size_t a), n, a, NEW, 0) \
    X(_ZnamSt11align_val_t, (size_t n, size_t a), n, a, ARR, 0) \
    X(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), n, a, NEW, 1) \
    X(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), n, a, ARR, 1)

#define DELETE_FORMS(X) \
    X(_ZdlPv, (void *p), NEW) \
    X(_ZdaPv, (void *p), ARR) \
    X(_ZdlPvm, (void *p, size_t n), NEW) \
    X(_ZdaPvm, (void *p, size_t n), ARR) \
    X(_ZdlPvSt11align_val_t, (void *p, size_t a), NEW) \
    X(_ZdaPvSt11align_val_t, (void *p, size_t a), ARR) \
    X(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t a), NEW) \
    X(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t a), ARR) \
    X(_ZdlPvRKSt9nothrow_t, (void *p, const void *t), NEW) \
    X(_ZdaPvRKSt9nothrow_t, (void *p, const void *t), ARR) \
    X(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t), NEW) \
    X(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t), ARR)

#define DECLARE_NEW(name, params, n, a, fam, nothrow) ENTRY void *name params;
#define DEFINE_NEW(name, params, n, a, fam, nothrow) \
    ENTRY void *name params { return cxx_new(n, a, fam, nothrow, RA()); }
#define DECLARE_DELETE(name, params, fam) ENTRY void name params;
#define DEFINE_DELETE(name, params, fam) \
    ENTRY void name params { cxx_delete(p, fam, RA()); }

#pragma GCC diagnostic ignored "-Wunused-parameter"
NEW_FORMS(DECLARE_NEW)
NEW_FORMS(DEFINE_NEW)
DELETE_FORMS(DECLARE_DELETE)
DELETE_FORMS(DEFINE_DELETE)
