/*
 * emulate.c — completing a stray write without opening the page. ASYNC-SIGNAL-SAFE.
 *
 * In continue mode a write through the read-only view must land and the page must stay
 * read-only for everyone else. Two kinds of instruction are completed here by doing their work
 * through the writable alias (address + the views' distance) and moving the registers on as the
 * CPU would have, with no single-step trap:
 *
 *   MOV stores   88 /r, 89 /r, C6 /0, C7 /0 with any ModRM/SIB/displacement memory operand
 *                (not RIP-relative, no segment override): one store of the same width, so an
 *                aligned store stays as atomic as the original.
 *   strings      stos and movs, with or without rep, forwards (DF = 0): as much of the
 *                destination as lies in the read-only view is written with one
 *                process_vm_writev(2) on our own process, which copies page by page and stops
 *                short, instead of faulting, at a guard page or an unreadable source. RDI, RSI
 *                and RCX advance by the elements done; the CPU runs the rest (which traps again
 *                if it reaches another read-only page, or a guard). So a memset of a megabyte
 *                costs one fault, not one per byte.
 *
 * No page is opened, so other threads writing to the same page at the same moment trap and are
 * handled on their own: exact with any number of threads. Everything else goes to rebase.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/ucontext.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

#define DIRECTION_FLAG 0x400 /* EFLAGS.DF */

/* Is every byte of [a, a+n) in the read-only view, on data pages of live objects? */
static int writable_alias_ok(uintptr_t a, size_t n)
{
    enum mg_view v1, v2;
    int64_t first = _mg_offset_of(a, &v1), last = _mg_offset_of(a + n - 1, &v2);
    if (first < 0 || last < 0 || v1 != MG_VIEW_RO || v2 != MG_VIEW_RO) return 0;
    for (int64_t off = first; ; off = (int64_t)(((uint64_t)off | (_mg_arena.page - 1)) + 1)) {
        const struct mg_slot *s = _mg_slot_for((uint64_t)off, NULL);
        uint64_t page = (uint64_t)off >> _mg_arena.page_shift;
        if (!s || s->state != MG_SLOT_LIVE || page < s->first_page || page >= (uint64_t)s->first_page + s->npages)
            return 0;
        if ((uint64_t)off >> _mg_arena.page_shift == (uint64_t)last >> _mg_arena.page_shift) return 1;
    }
}

int _mg_emulate_store(void *ucv, uintptr_t fault_addr)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    struct mg_insn in;
    if (_mg_decode((const uint8_t *)g[REG_RIP], &in) != 0) return -1;
    if (in.encoding != MG_ENC_LEGACY || in.map != 0 || in.mod == 3 || in.rip_relative || in.segment || in.addr32)
        return -1;
    if (in.op != 0x88 && in.op != 0x89 && in.op != 0xC6 && in.op != 0xC7) return -1;
    if ((in.op == 0xC6 || in.op == 0xC7) && (in.reg & 7) != 0) return -1;

    uint64_t ea = (uint64_t)(int64_t)in.disp;
    if (in.base >= 0) ea += (uint64_t)g[_mg_greg_of[in.base]];
    if (in.index >= 0) ea += (uint64_t)g[_mg_greg_of[in.index]] << in.scale;
    size_t width = (in.op == 0x88 || in.op == 0xC6) ? 1 : in.w ? 8 : in.opsize16 ? 2 : 4;
    const uint8_t *p = in.end;
    uint64_t value;
    if (in.op == 0xC6) {
        value = *p++;
    } else if (in.op == 0xC7) {
        if (width == 2) { uint16_t v; memcpy(&v, p, 2); p += 2; value = v; }
        else { int32_t v; memcpy(&v, p, 4); p += 4; value = (uint64_t)(int64_t)v; }
    } else if (width == 1 && !in.rex && in.reg >= 4 && in.reg < 8) {
        value = (uint64_t)g[_mg_greg_of[in.reg - 4]] >> 8; /* AH, CH, DH, BH */
    } else {
        value = (uint64_t)g[_mg_greg_of[in.reg]];
    }
    /* The decoded store must be the one that faulted, wholly on live pages of the read-only view. */
    if (fault_addr < ea || fault_addr >= ea + width || !writable_alias_ok((uintptr_t)ea, width)) return -1;
    uintptr_t alias = (uintptr_t)ea + _mg_arena.reserve;
    switch (width) {
    case 1: *(volatile uint8_t *)alias = (uint8_t)value; break;
    case 2: *(volatile uint16_t *)alias = (uint16_t)value; break;
    case 4: *(volatile uint32_t *)alias = (uint32_t)value; break;
    default: *(volatile uint64_t *)alias = value; break;
    }
    g[REG_RIP] += (greg_t)(p - in.start);
    return 0;
}

/* ---- stos and movs ------------------------------------------------------------------------ */

#define MAX_PIECES 64            /* remote pieces (pages) per process_vm_writev */
#define FILL_CHUNK 1024          /* the stos pattern, repeated from the stack */
#define FILL_PIECES 256          /* so one call fills at most 256 KiB */

/* Writes n bytes to dst's writable alias from src (or, if src is NULL, the stos pattern in
 * fill), one remote piece per page so that a short count is exact to the page. Returns the bytes
 * written; stops at the first page it cannot write. */
static size_t write_alias(uintptr_t dst, const uint8_t *src, const uint8_t *fill, size_t width, size_t n)
{
    struct iovec local[FILL_PIECES], remote[MAX_PIECES];
    const size_t most = (size_t)FILL_PIECES * FILL_CHUNK;
    size_t done = 0;
    pid_t self = getpid();
    while (done < n) {
        size_t want = 0;
        int nr = 0;
        while (nr < MAX_PIECES && done + want < n && want < most) {
            uintptr_t at = dst + done + want;
            size_t piece = _mg_arena.page - (at & (_mg_arena.page - 1));
            if (piece > n - done - want) piece = n - done - want;
            if (piece > most - want) piece = most - want;
            remote[nr++] = (struct iovec){(void *)(at + _mg_arena.reserve), piece};
            want += piece;
        }
        int nl = 0;
        if (src) {
            local[nl++] = (struct iovec){(void *)(uintptr_t)(src + done), want};
        } else {
            /* The pattern repeats every FILL_CHUNK bytes, a multiple of every width; it starts in
             * phase with the element that `done` reached. */
            for (size_t o = 0; o < want; o += FILL_CHUNK)
                local[nl++] = (struct iovec){(void *)(uintptr_t)(fill + done % width), want - o < FILL_CHUNK ? want - o : FILL_CHUNK};
        }
        ssize_t got = process_vm_writev(self, local, (unsigned long)nl, remote, (unsigned long)nr, 0);
        if (got <= 0) break;
        done += (size_t)got;
        if ((size_t)got < want) break;
    }
    return done;
}

int _mg_emulate_string(void *ucv, uintptr_t fault_addr)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    struct mg_insn in;
    if (_mg_decode((const uint8_t *)g[REG_RIP], &in) != 0) return -1;
    if (in.encoding != MG_ENC_LEGACY || in.map != 0 || in.addr32 || in.segment) return -1;
    if (in.op != 0xA4 && in.op != 0xA5 && in.op != 0xAA && in.op != 0xAB) return -1;
    if (g[REG_EFL] & DIRECTION_FLAG) return -1;  /* backwards: left to rebase.c's fallbacks */
    int movs = in.op == 0xA4 || in.op == 0xA5;
    size_t width = (in.op == 0xA4 || in.op == 0xAA) ? 1 : in.w ? 8 : in.opsize16 ? 2 : 4;
    uint64_t count = in.rep ? (uint64_t)g[REG_RCX] : 1;
    uintptr_t dst = (uintptr_t)g[REG_RDI], src = (uintptr_t)g[REG_RSI];
    enum mg_view view;
    if (count == 0 || count > (SIZE_MAX >> 4) / width) return -1;
    if (_mg_offset_of(dst, &view) < 0 || view != MG_VIEW_RO) return -1;
    size_t bytes = (size_t)count * width;
    if (fault_addr < dst || fault_addr - dst >= bytes) return -1;
    /* The destination stays inside the read-only view (a guard always comes first). */
    size_t room = _mg_arena.reserve - (size_t)(dst - _mg_arena.ro);
    if (bytes > room) bytes = room - room % width;
    if (movs) {
        /* A forward copy onto itself further on (dst a little above src, in either view) must
         * see its own output, element by element: only copy what lies below the overlap. */
        enum mg_view sv;
        int64_t so = _mg_offset_of(src, &sv), dofs = (int64_t)(dst - _mg_arena.ro);
        if (so >= 0 && dofs > so && (size_t)(dofs - so) < bytes) bytes = (size_t)(dofs - so) - (size_t)(dofs - so) % width;
        if (bytes == 0) return -1;
    }
    uint8_t fill[FILL_CHUNK + 8];
    if (!movs) {
        uint64_t v = (uint64_t)g[REG_RAX];
        for (size_t i = 0; i < sizeof fill; i += width) memcpy(fill + i, &v, width);
    }
    size_t done = write_alias(dst, movs ? (const uint8_t *)src : NULL, fill, width, bytes);
    done -= done % width;
    if (done == 0) return -1;
    g[REG_RDI] += (greg_t)done;
    if (movs) g[REG_RSI] += (greg_t)done;
    if (in.rep) g[REG_RCX] -= (greg_t)(done / width);
    if (!in.rep || g[REG_RCX] == 0) g[REG_RIP] = (greg_t)(uintptr_t)in.end;
    return 0;
}

#pragma GCC visibility pop
