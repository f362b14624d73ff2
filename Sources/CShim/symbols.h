/*
 * symbols.h — allocation-free, async-signal-safe naming of code addresses (see symbols.c).
 */
#ifndef MG_SYMBOLS_H
#define MG_SYMBOLS_H
#include <stdint.h>
typedef struct mg_frame_info {
    const char *function;      /* symbol name (mangled as in the symbol table) or NULL if unknown; stays valid until exit */
    uintptr_t function_offset; /* lookup address - symbol start */
    const char *module;        /* absolute path of the ELF file containing pc, or NULL (e.g. [vdso], anonymous JIT code) */
    uintptr_t module_offset;   /* the address to give `llvm-symbolizer --obj=module` / `addr2line -e module`:
                                  the file's own virtual address (pc - load bias); for non-PIE ET_EXEC that is pc itself */
} mg_frame_info_t;
/* Names `addr` (already adjusted by the caller: callers pass pc-1 for return addresses). Returns 0 if a
   module was found (function may still be NULL), -1 otherwise (all fields NULL/0). Callers serialize calls
   (they hold a report lock); the function must still be safe to call from a signal handler. */
int _mg_symbolize(uintptr_t addr, mg_frame_info_t *out);
/* Optional warm-up at start-up (outside signal context): learn the modules loaded now. */
void _mg_symbols_prime(void);
void _mg_symbols_after_fork_child(void);
#endif
