/*
 * emulate.c — completing a stray write without opening the page. ASYNC-SIGNAL-SAFE.
 *
 * In continue mode a write through the read-only view must land and the page must stay
 * read-only for everyone else. Most such writes are plain MOV stores; for those the handler
 * decodes the instruction, computes its effective address from the registers saved in the signal
 * frame, performs the same store through the writable alias (address + the views' distance), and
 * moves RIP past the instruction. No page is opened, so other threads writing to the same page at
 * the same moment trap and are handled on their own: exact with any number of threads, and with
 * no single-step trap (which costs ~10 µs in a VM).
 *
 * Decoded (64-bit mode): optional 0x66 and one REX prefix, then
 *   88 /r  mov r/m8, r8        89 /r  mov r/m16/32/64, r
 *   C6 /0  mov r/m8, imm8      C7 /0  mov r/m16/32/64, imm16/32 (sign-extended to 64)
 * with any ModRM/SIB/displacement memory form except RIP-relative. Anything else (vector stores,
 * string instructions, other prefixes) returns -1 and the caller single-steps it instead.
 */
#include <string.h>
#include <sys/ucontext.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

/* x86 register numbers 0..15 → their place in the saved context. */
static const int greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

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
    const uint8_t *ip = (const uint8_t *)g[REG_RIP], *p = ip;
    int opsize16 = 0, rex = 0;
    if (*p == 0x66) { opsize16 = 1; p++; }
    if ((*p & 0xF0) == 0x40) rex = *p++;
    uint8_t op = *p++;
    if (op != 0x88 && op != 0x89 && op != 0xC6 && op != 0xC7) return -1;

    uint8_t modrm = *p++;
    unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (mod == 3) return -1;                            /* a register, not memory */
    if ((op == 0xC6 || op == 0xC7) && reg != 0) return -1;
    uint64_t ea = 0;
    if (rm == 4) {                                      /* SIB */
        uint8_t sib = *p++;
        unsigned scale = sib >> 6, index = ((sib >> 3) & 7) | ((rex & 2) << 2), base = (sib & 7) | ((rex & 1) << 3);
        if (index != 4) ea += (uint64_t)g[greg_of[index]] << scale;
        if ((sib & 7) == 5 && mod == 0) { int32_t d; memcpy(&d, p, 4); p += 4; ea += (uint64_t)(int64_t)d; }
        else ea += (uint64_t)g[greg_of[base]];
    } else if (rm == 5 && mod == 0) {
        return -1;                                      /* RIP-relative: a global, never the arena */
    } else {
        ea += (uint64_t)g[greg_of[rm | ((rex & 1) << 3)]];
    }
    if (mod == 1) { ea += (uint64_t)(int64_t)(int8_t)*p; p += 1; }
    else if (mod == 2) { int32_t d; memcpy(&d, p, 4); p += 4; ea += (uint64_t)(int64_t)d; }

    size_t width = (op == 0x88 || op == 0xC6) ? 1 : (rex & 8) ? 8 : opsize16 ? 2 : 4;
    uint64_t value;
    if (op == 0xC6) {
        value = *p++;
    } else if (op == 0xC7) {
        if (width == 2) { uint16_t v; memcpy(&v, p, 2); p += 2; value = v; }
        else { int32_t v; memcpy(&v, p, 4); p += 4; value = (uint64_t)(int64_t)v; }
    } else {
        unsigned src = reg | ((rex & 4) << 1);
        if (width == 1 && !rex && src >= 4 && src < 8)
            value = (uint64_t)g[greg_of[src - 4]] >> 8; /* AH, CH, DH, BH */
        else
            value = (uint64_t)g[greg_of[src]];
    }
    /* The decoded store must be the one that faulted, wholly on live pages of the read-only view. */
    if (fault_addr < ea || fault_addr >= ea + width || !writable_alias_ok((uintptr_t)ea, width)) return -1;
    /* One store of the same width, so an aligned store stays atomic as the original was. */
    uintptr_t alias = (uintptr_t)ea + _mg_arena.reserve;
    switch (width) {
    case 1: *(volatile uint8_t *)alias = (uint8_t)value; break;
    case 2: *(volatile uint16_t *)alias = (uint16_t)value; break;
    case 4: *(volatile uint32_t *)alias = (uint32_t)value; break;
    default: *(volatile uint64_t *)alias = value; break;
    }
    g[REG_RIP] += (greg_t)(p - ip);
    return 0;
}

#pragma GCC visibility pop
