/*
 * preload.c — what libmirrorguard.so adds to the core when it is preloaded or linked.
 *
 * The constructor starts MirrorGuard as soon as the library is loaded, so the fault handler is
 * first in line before the program's own code runs (the malloc family, interposed in malloc.c,
 * may start it even earlier). With changes_at_exit=1 it also takes the start-up snapshot here,
 * after libc is up, since that starts a thread. This directory is linked only into libmirrorguard.so, never into
 * the Swift targets, so Swift tests never replace their own malloc.
 */
#include "mg_internal.h"

__attribute__((constructor)) static void mg_preload_start(void)
{
    _mg_late_start();                          /* fork handlers, exit checks: outside any malloc */
    if (_mg_ready()) _mg_snapshot_at_start(); /* changes_at_exit=1 */
    _mg_resolve_system();
}
