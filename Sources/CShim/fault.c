/*
 * fault.c — the SIGSEGV/SIGBUS handler. ASYNC-SIGNAL-SAFE: no malloc, no stdio, no locks that a
 * faulting thread might hold.
 *
 * A fault is ours when its address lies in either view of the arena. The slot that owns the
 * page tells what was hit:
 *   - a freed slot's data page             → heap-use-after-free
 *   - a guard page                         → heap-buffer-overflow of the slot before it, or
 *                                            heap-buffer-underflow of the slot after it,
 *                                            whichever object is nearer
 *   - a live page, written through the
 *     read-only view                       → stray-write
 *   - SIGBUS (past the end of the file)    → arena-bus-error
 * Read or write comes from the page-fault error code the kernel saves in the context.
 *
 * Faults that are not ours go to the handler the program had before us, or that it installs
 * later: `sigaction` and `signal` are interposed so that a program (or a crash reporter) that
 * installs its own SIGSEGV handler becomes the next in the chain instead of replacing us. With
 * no such handler the default action is restored and the fault re-raised, so the process dies
 * exactly as it would without MirrorGuard.
 *
 * In continue mode continue.c lets the access complete when the handler returns.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

static struct sigaction chained[2];      /* [0] SIGSEGV, [1] SIGBUS: the program's handlers */
static _Atomic int installed;

static inline int sig_index(int sig) { return sig == SIGBUS; }

void _mg_chain_to(struct sigaction *next, int sig, siginfo_t *si, void *uc)
{
    struct sigaction h = *next;
    void (*fn)(int, siginfo_t *, void *) = (h.sa_flags & SA_SIGINFO) ? h.sa_sigaction : NULL;
    if (!fn && h.sa_handler != SIG_DFL && h.sa_handler != SIG_IGN) fn = (void (*)(int, siginfo_t *, void *))(void (*)(void))h.sa_handler;
    if (fn) {
        /* Call it as the kernel would have: with its mask (and its own signal unless
         * SA_NODEFER) blocked, and reset first if it asked for SA_RESETHAND. */
        if (h.sa_flags & SA_RESETHAND) {
            memset(next, 0, sizeof *next);
            next->sa_handler = SIG_DFL;
        }
        sigset_t mask = h.sa_mask, old;
        if (!(h.sa_flags & SA_NODEFER)) sigaddset(&mask, sig);
        pthread_sigmask(SIG_BLOCK, &mask, &old);
        if (h.sa_flags & SA_SIGINFO) fn(sig, si, uc);
        else h.sa_handler(sig);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return;
    }
    /* The default action: restore it, and let the faulting instruction run again (a signal
     * sent with kill(2) is raised again instead, as it would not recur by itself). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    _mg_real_sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0) raise(sig);
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    _mg_chain_to(&chained[sig_index(sig)], sig, si, uc);
}

/* Decides what a fault at arena offset `off` is. Returns 0 if it is not ours after all. */
static int classify(struct mg_report *r, int sig, uint64_t off, enum mg_view view, int write,
                    uint32_t *slot_id)
{
    uint32_t id = 0;
    const struct mg_slot *s = _mg_slot_for(off, &id);
    *slot_id = id;
    if (sig == SIGBUS) {
        r->kind = MG_KIND_ARENA_BUS_ERROR;
        if (s && s->state != MG_SLOT_UNUSED) _mg_report_region(r, s, view);
        return 1;
    }
    uint64_t page = off >> _mg_arena.page_shift;
    int guard = s ? page == (uint64_t)s->first_page + s->npages : page == 0;
    if (guard) {
        /* Between the object before (whose guard this is) and the object after. */
        uint32_t next_id = 0;
        const struct mg_slot *n = _mg_slot_for((page + 1) << _mg_arena.page_shift, &next_id);
        int prev_ok = s && s->state != MG_SLOT_UNUSED;
        int next_ok = n && n != s && n->state != MG_SLOT_UNUSED && n->first_page == page + 1;
        if (!prev_ok && !next_ok) return 0;
        uint64_t d_prev = prev_ok ? off - (s->user + s->size) : UINT64_MAX;
        uint64_t d_next = next_ok ? n->user - off : UINT64_MAX;
        if (prev_ok && d_prev <= d_next) {
            r->kind = MG_KIND_HEAP_BUFFER_OVERFLOW;
            _mg_report_region(r, s, view);
        } else {
            r->kind = MG_KIND_HEAP_BUFFER_UNDERFLOW;
            _mg_report_region(r, n, view);
            *slot_id = next_id;
        }
        return 1;
    }
    if (!s || s->state == MG_SLOT_UNUSED) return 0;
    if (s->state != MG_SLOT_LIVE) {
        r->kind = MG_KIND_HEAP_USE_AFTER_FREE;
        _mg_report_region(r, s, view);
        return 1;
    }
    if (write && view == MG_VIEW_RO) {
        r->kind = MG_KIND_STRAY_WRITE;
        _mg_report_region(r, s, view);
        return 1;
    }
    return 0;
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
    int saved = errno;
    ucontext_t *uc = ucv;
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (si->si_code > 0 && _mg_fork_copy_fault(addr)) {
        errno = saved;
        return;
    }
    enum mg_view view;
    int64_t off = _mg_offset_of(addr, &view);
    if (off < 0 || si->si_code <= 0) {
        chain(sig, si, ucv);
        errno = saved;
        return;
    }
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    int write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0; /* x86 page-fault error code: W/R bit */
    struct mg_report r = {.addr = addr, .pc = pc, .access = write ? "WRITE" : "READ", .tid = _mg_gettid()};
    uint32_t slot_id = 0;
    if (!classify(&r, sig, (uint64_t)off, view, write, &slot_id)) {
        /* In the arena but harmless now: a slot being handed out again between the fault and
         * this look (its guard about to come off). Let the access retry; only a fault that
         * persists goes on down the chain. */
        static MG_TLS unsigned retries;
        if (++retries < 1000) {
            sched_yield();
            errno = saved;
            return;
        }
        retries = 0;
        chain(sig, si, ucv);
        errno = saved;
        return;
    }
    /* An instruction running rebased (rebase.c) that hit a guard or a freed object through the
     * writable view: the program used the read-only address, so that is what the report names.
     * The page to open is still the writable one, where the access really happens. */
    if (view == MG_VIEW_RW && _mg_rebase_active(ucv)) {
        r.addr -= _mg_arena.reserve;
        if (r.slot) _mg_report_region(&r, r.slot, MG_VIEW_RO);
    }
    /* In continue mode a repeat of a reported (pc, kind) is only counted: no unwinding. */
    int repeat = _mg_opt.on_error == MG_ON_ERROR_CONTINUE && sig != SIGBUS && !_mg_continue_first(pc, r.kind);
    r.counted = 1;
    if (!repeat) {
        uintptr_t frames[MG_MAX_FRAMES];
        r.nframes = _mg_stack_from_signal(pc, frames, _mg_opt.max_frames);
        r.frames = frames;
        _mg_report(&r);
    }
    if (_mg_opt.on_error == MG_ON_ERROR_ABORT || sig == SIGBUS) _mg_report_abort();
    if (_mg_continue_access(&r, (uint64_t)off, view, slot_id, ucv) != 0) _mg_report_abort();
    errno = saved;
}

void _mg_fault_install(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return;
    /* An alternate stack for this thread, so a fault reached through a stack overflow in the
     * initial thread still gets its report. */
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && (current.ss_flags & SS_DISABLE)) {
        size_t size = 64 * 1024;
        void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem != MAP_FAILED) {
            stack_t ss = {.ss_sp = mem, .ss_size = size, .ss_flags = 0};
            (void)sigaltstack(&ss, NULL);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    _mg_real_sigaction(SIGSEGV, &sa, &chained[0]);
    _mg_real_sigaction(SIGBUS, &sa, &chained[1]);
}

#pragma GCC visibility pop

/* ---- Interposed libc calls ---------------------------------------------------------------- */

/* A program's SIGSEGV/SIGBUS handler becomes the next in our chain; every other signal goes
 * straight to libc. The old action returned is the program's previous one, never ours. */
MG_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig == SIGTRAP && _mg_continue_chain_trap(act, old)) return 0;
    if (sig != SIGSEGV && sig != SIGBUS) return _mg_real_sigaction(sig, act, old);
    _mg_fault_install();
    struct sigaction *slot = &chained[sig_index(sig)];
    if (old) *old = *slot;
    if (act) {
        struct sigaction copy = *act;
        /* Mask and flags are the program's wish for its handler; ours keep SA_ONSTACK. */
        *slot = copy;
    }
    return 0;
}

MG_EXPORT sighandler_t signal(int sig, sighandler_t handler_fn)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler_fn;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART; /* glibc's signal(): BSD semantics */
    if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}
