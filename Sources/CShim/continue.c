/*
 * continue.c — on_error=continue: report, let the access complete, run on. ASYNC-SIGNAL-SAFE:
 * called from the fault handler and the SIGTRAP handler.
 *
 * Repeated faults are reported once per (instruction, kind) and then only counted; an exit
 * summary gives the totals per kind.
 *
 * A stray write must land while the page stays read-only for every other thread. How, in order
 * of preference (continue_method=rebase, the default):
 *   1. a plain MOV store, or a stos/movs string instruction, is done by the handler through the
 *      writable alias and the registers moved on (emulate.c): no trap, no page opened;
 *   2. any other instruction runs once with one address register moved to the writable view and
 *      the trap flag set (rebase.c): per thread, no page opened;
 *   3. what neither can take (an address register the instruction also uses as data, RSP,
 *      RIP- or FS-relative addresses) is single-stepped with the page open, as `step` below.
 * So with threads every stray write traps and is counted; only case 3 can let another thread's
 * write to the same page through unseen during its step.
 *
 * The other methods:
 *   step   The fallback, forced: every stray write is single-stepped with its page open. The
 *          faulting thread takes the step lock, makes the page of the read-only view writable,
 *          and returns with the trap flag set; the CPU traps after that one instruction, and the
 *          SIGTRAP handler makes the page read-only again and releases the lock. The lock
 *          serializes stepping threads; what it cannot stop is another thread writing to the same
 *          page through a read-only pointer during those microseconds: mprotect is process-wide,
 *          so that write goes through unreported (it still lands).
 *   open   No SIGTRAP (a debugger owns it): MOV and string stores are still emulated; any other
 *          stray write opens its page for good, and later writes to that page are not reported.
 *
 * Guard pages and freed slots are always opened for good, and the slot is retired from reuse.
 * `auto` picks rebase, or open when a debugger is attached (TracerPid), and says so.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

#define TRAP_FLAG 0x100 /* EFLAGS.TF */
#define STEP_HAD_TF 1
#define STEP_UNMASKED 2

int _mg_step_arm(void *ucv)
{
    ucontext_t *uc = ucv;
    int state = (uc->uc_mcontext.gregs[REG_EFL] & TRAP_FLAG) ? STEP_HAD_TF : 0;
    uc->uc_mcontext.gregs[REG_EFL] |= TRAP_FLAG;
    /* A single-step trap that finds SIGTRAP blocked kills the process: the mask the thread
     * returns to lets it through for this one instruction. */
    if (sigismember(&uc->uc_sigmask, SIGTRAP) == 1) {
        sigdelset(&uc->uc_sigmask, SIGTRAP);
        state |= STEP_UNMASKED;
    }
    return state;
}

void _mg_step_disarm(void *ucv, int state)
{
    ucontext_t *uc = ucv;
    if (!(state & STEP_HAD_TF)) uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)TRAP_FLAG;
    if (state & STEP_UNMASKED) sigaddset(&uc->uc_sigmask, SIGTRAP);
}

/* ---- Deduplication and totals ------------------------------------------------------------- */

#define SITES 4096
static struct {
    _Atomic uintptr_t key;      /* pc ^ kind, 0 = empty */
} sites[SITES];
static _Atomic unsigned long totals[MG_KIND_COUNT], site_counts[MG_KIND_COUNT];

int _mg_continue_first(uintptr_t pc, enum mg_kind kind)
{
    atomic_fetch_add(&totals[kind], 1);
    uintptr_t key = (pc << 4) | ((uintptr_t)kind + 1); /* never 0; kinds stay apart */
    for (uintptr_t i = (key >> 4) % SITES, n = 0; n < SITES; i = (i + 1) % SITES, n++) {
        uintptr_t seen = atomic_load(&sites[i].key);
        if (seen == key) return 0;
        if (seen == 0) {
            if (atomic_compare_exchange_strong(&sites[i].key, &seen, key)) {
                atomic_fetch_add(&site_counts[kind], 1);
                return 1;
            }
            if (seen == key) return 0;
        }
    }
    return 0; /* table full: count, don't report */
}

static void summary(void)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "MirrorGuard: continued after errors:");
    int any = 0;
    for (int k = 0; k < MG_KIND_COUNT && n < (int)sizeof line - 80; k++) {
        unsigned long t = atomic_load(&totals[k]);
        if (!t) continue;
        unsigned long s = atomic_load(&site_counts[k]);
        n += snprintf(line + n, sizeof line - (size_t)n, "%s %s %lu (%lu site%s)", any ? "," : "",
                      _mg_kind_name((enum mg_kind)k), t, s, s == 1 ? "" : "s");
        any = 1;
    }
    if (!any) return;
    line[n++] = '\n';
    _mg_write_all(2, line, (size_t)n);
}

/* ---- Single-stepping a stray write -------------------------------------------------------- */

static _Atomic pid_t step_owner;
static MG_TLS uintptr_t stepped_pages[8];
static MG_TLS int stepped_count;
static MG_TLS int step_state;        /* what _mg_step_arm returned for the page-open step */
static struct sigaction chained_trap;
static int method = MG_CONTINUE_REBASE;
static int trap_ours;   /* our SIGTRAP handler is in */

int _mg_continue_can_trap(void)
{
    return trap_ours;
}

static void step_unlock(void)
{
    atomic_store(&step_owner, 0);
}

static void step_lock(void)
{
    pid_t self = _mg_gettid(), none = 0;
    if (atomic_load(&step_owner) == self) return; /* one instruction faulting on two pages */
    for (unsigned spins = 0; !atomic_compare_exchange_weak(&step_owner, &none, self); spins++) {
        none = 0;
        if (spins > 64) sched_yield(); /* the owner may be descheduled mid-step */
    }
}

static void trap_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    if (_mg_rebase_finish(ucv, si->si_code == TRAP_TRACE)) return;
    if (stepped_count == 0) {
        /* Not ours: a debugger's or the program's breakpoint. */
        _mg_chain_to(&chained_trap, sig, si, ucv);
        return;
    }
    int saved = errno;
    for (int i = 0; i < stepped_count; i++) (void)mprotect((void *)stepped_pages[i], _mg_arena.page, PROT_READ);
    stepped_count = 0;
    _mg_step_disarm(uc, step_state);
    step_state = 0;
    step_unlock();
    errno = saved;
}

/* Lets a stray write through for one instruction. 0, or -1 if it cannot (then the caller opens
 * the page for good). */
static int step_stray_write(uintptr_t page, ucontext_t *uc)
{
    step_lock();
    if (stepped_count == (int)(sizeof stepped_pages / sizeof stepped_pages[0]) ||
        mprotect((void *)page, _mg_arena.page, PROT_READ | PROT_WRITE) != 0) {
        if (stepped_count == 0) step_unlock();
        return -1;
    }
    stepped_pages[stepped_count++] = page;
    if (stepped_count == 1) step_state = _mg_step_arm(uc);
    return 0;
}

int _mg_continue_access(const struct mg_report *r, uint64_t off, enum mg_view view, uint32_t slot_id, void *ucv)
{
    if (r->kind == MG_KIND_STRAY_WRITE) {
        if (method != MG_CONTINUE_STEP) {
            if (_mg_emulate_store(ucv, r->addr) == 0) return 0;
            if (_mg_emulate_string(ucv, r->addr) == 0) return 0;
            if (method == MG_CONTINUE_REBASE && _mg_rebase_step(ucv, r->addr) == 0) return 0;
        }
        uintptr_t page = _mg_addr(off & ~(uint64_t)(_mg_arena.page - 1), view);
        if (trap_ours && step_stray_write(page, ucv) == 0) return 0;
    }
    /* Retire the object reported and the owner of the page opened (for an underflow, the
     * guard page belongs to the slot before): neither is handed out again. */
    uint32_t owner = 0;
    _mg_slot_for(off, &owner);
    _mg_slot_mark_opened(slot_id);
    _mg_slot_mark_opened(owner);
    return _mg_arena_open_page(off, view);
}

void _mg_continue_after_fork_child(void)
{
    atomic_store(&step_owner, 0);
}

/* A program's own SIGTRAP handler, installed after ours, becomes the next in line. */
int _mg_continue_chain_trap(const struct sigaction *act, struct sigaction *old)
{
    if (!trap_ours) return 0;
    if (old) *old = chained_trap;
    if (act) chained_trap = *act;
    return 1;
}

/* ---- Start-up ----------------------------------------------------------------------------- */

static int traced(void)
{
    return _mg_proc_status("TracerPid", 0) != 0;
}

void _mg_continue_start(void)
{
    if (_mg_opt.on_error != MG_ON_ERROR_CONTINUE) return;
    atexit(summary);
    method = _mg_opt.continue_method;
    if (method == MG_CONTINUE_AUTO) {
        method = MG_CONTINUE_REBASE;
        if (traced()) {
            _mg_warn("on_error=continue: a debugger is attached and owns SIGTRAP; "
                     "using continue_method=open (a stray write other than a MOV or string store opens its page)");
            method = MG_CONTINUE_OPEN;
        }
    }
    if (method == MG_CONTINUE_OPEN) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = trap_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (_mg_real_sigaction(SIGTRAP, &sa, &chained_trap) == 0) trap_ours = 1;
    else _mg_warn("on_error=continue: cannot install the SIGTRAP handler; stray writes other than MOV and "
                  "string stores will open their page (as continue_method=open)");
}

#pragma GCC visibility pop
