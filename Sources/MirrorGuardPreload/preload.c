/*
 * preload.c — what libmirrorguard.so adds to the core when it is preloaded or linked.
 *
 * The constructor starts MirrorGuard as soon as the library is loaded, so the fault handler is
 * first in line before the program's own code runs (the malloc family, interposed in malloc.c,
 * may start it even earlier). With changes_at_exit=1 it also takes the start-up snapshot here,
 * after libc is up, since that starts a thread. fork() is interposed here too, to start the
 * thread a lazy fork needs before glibc's fork begins. This directory is linked only into
 * libmirrorguard.so, never into the Swift targets, so Swift tests never replace their own
 * malloc.
 */
#include "mg_internal.h"

extern pid_t __fork(void);

__attribute__((constructor)) static void mg_preload_start(void)
{
    _mg_late_start();                          /* fork handlers, exit checks: outside any malloc */
    if (_mg_ready()) _mg_snapshot_at_start(); /* changes_at_exit=1 */
    _mg_resolve_system();
}

/* fork=lazy needs the snapshot handler thread running before the fork (fork.c). It is started
 * here, outside glibc's fork: a thread created inside an atfork handler would be missed by
 * glibc's own fork-time locking, which is decided before the handlers run. */
MG_EXPORT pid_t fork(void)
{
    if (_mg_started() && _mg_fork_wants_lazy()) {
        _mg_fork_own_heap(); /* a pending child first takes its heap: its view is still the parent's to watch */
        (void)_mg_uffd_start();
    }
    return __fork();
}
