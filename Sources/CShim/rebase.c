/*
 * rebase.c — letting any other stray write through, per thread. ASYNC-SIGNAL-SAFE.
 *
 * The two views map the same pages at a fixed distance, so an instruction that writes to
 * base + index*scale + disp in the read-only view writes to the same bytes of the writable view
 * when its base register holds base + distance. So the fault handler adds the distance to that
 * one register in the saved context, sets the trap flag, and returns: the CPU runs the
 * instruction itself, exactly as the program wrote it (vector and masked stores of any width,
 * read-modify-write, lock-prefixed atomics, scatters), against the writable alias, then traps;
 * the SIGTRAP handler takes the distance off again. The register and the flag belong to this
 * thread alone and no page changes protection, so a second thread writing to the same page at
 * the same moment traps and is reported on its own. This is what protection keys would give,
 * without needing them.
 *
 * A register can be moved only if the instruction uses it for nothing but the address:
 *   - not the ModRM reg operand when that is a general register (`add [rax], rax`);
 *   - not one it reads or writes implicitly (cmpxchg's RAX, a shift count in CL, ...);
 *   - not RSP, where a signal frame could be pushed;
 *   - and the other address register is a different one.
 * The base is moved if it can be, else an index with scale 1. What the decoder computes must
 * also be the address that faulted. Anything else (RIP-relative, FS/GS-relative or 32-bit
 * addresses, conflicts, unknown encodings) returns -1, and continue.c single-steps it with the
 * page open, or opens it.
 *
 * If the moved access itself faults (the store runs into a guard page or a freed object in the
 * writable view), the fault handler reports it at the read-only address the program used, and
 * continue mode opens the writable page so the instruction can complete.
 *
 * Each thread keeps a short stack of moved registers, so a program's signal handler that makes
 * a stray write of its own while another is pending is stepped and undone in turn.
 */
#include <signal.h>
#include <sys/ucontext.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };
#define BIT(r) (1u << (r))

struct pending {
    int8_t reg;          /* hardware number of the register moved */
    uint8_t step;        /* what _mg_step_arm returned */
    greg_t moved;        /* its value while moved: how the trap knows it is ours */
};
#define DEPTH 4
static MG_TLS struct pending stack[DEPTH];
static MG_TLS int depth;

/* Does the ModRM reg field of a legacy-encoded instruction name a general register? For VEX and
 * EVEX it is a vector or mask register (their few general-register forms never store). */
static int reg_is_gpr(const struct mg_insn *in)
{
    if (in->encoding != MG_ENC_LEGACY) return 0;
    switch (in->map) {
    case 0:
        switch (in->op) {
        case 0x80: case 0x81: case 0x83: case 0x8C: case 0x8F: case 0xC0: case 0xC1: case 0xC6:
        case 0xC7: case 0xD0: case 0xD1: case 0xD2: case 0xD3: case 0xF6: case 0xF7: case 0xFE:
        case 0xFF:
            return 0;  /* reg is an opcode extension (or a segment register) */
        default:
            return !(in->op >= 0xD8 && in->op <= 0xDF); /* x87 */
        }
    case 1:
        switch (in->op) {
        case 0xA3: case 0xA4: case 0xA5: case 0xAB: case 0xAC: case 0xAD: case 0xAF: case 0xB0:
        case 0xB1: case 0xB3: case 0xB6: case 0xB7: case 0xBB: case 0xBC: case 0xBD: case 0xBE:
        case 0xBF: case 0xC0: case 0xC1: case 0xC3:
            return 1;  /* bt*, shld/shrd, cmpxchg, xadd, movnti, ... */
        default:
            return in->op >= 0x40 && in->op <= 0x4F; /* cmov; the rest are SSE/MMX or groups */
        }
    case 2:
        return in->op >= 0xF0;  /* movbe, crc32, adcx/adox, wrss, movdiri */
    default:
        return 0;
    }
}

/* Registers read or written without being named in ModRM; ~0 for instructions never moved. */
static unsigned implicit_regs(const struct mg_insn *in)
{
    if (in->encoding != MG_ENC_LEGACY) return 0;
    if (in->map == 0) {
        if (in->op == 0xD2 || in->op == 0xD3) return BIT(RCX);            /* shift by CL */
        return 0;
    }
    if (in->map == 1) {
        switch (in->op) {
        case 0xA5: case 0xAD: return BIT(RCX);                             /* shld/shrd by CL */
        case 0xB0: case 0xB1: return BIT(RAX);                             /* cmpxchg */
        case 0xC7: return BIT(RAX) | BIT(RBX) | BIT(RCX) | BIT(RDX);      /* cmpxchg8b/16b */
        case 0xAE: return BIT(RAX) | BIT(RDX);                             /* xsave family */
        default: return 0;
        }
    }
    if (in->map == 2 && (in->op == 0xF8 || in->op == 0xF9)) return ~0u;   /* movdir64b, enqcmd */
    return 0;
}

static int usable(int reg, const struct mg_insn *in, unsigned implicit, int other)
{
    if (reg < 0 || reg == RSP || reg == other) return 0;
    if (implicit & BIT(reg)) return 0;
    if (reg_is_gpr(in)) {
        if (in->reg == reg) return 0;
        /* Without REX, byte registers 4..7 are AH, CH, DH, BH: parts of RAX..RBX. */
        if (!in->rex && in->reg >= 4 && in->reg < 8 && in->reg - 4 == reg) return 0;
    }
    return 1;
}

/* Does the instruction's address, as decoded, cover the faulting address? EVEX scales a one-byte
 * displacement by an operand size the decoder does not track: any of them may be the one. */
static int covers(const struct mg_insn *in, const greg_t *g, uintptr_t fault)
{
    uint64_t ea = 0;
    if (in->base >= 0) ea += (uint64_t)g[_mg_greg_of[in->base]];
    if (in->index >= 0) ea += (uint64_t)g[_mg_greg_of[in->index]] << in->scale;
    if (in->vsib) {
        /* A scatter: its elements spread from the base; the base must be in the read-only view. */
        enum mg_view v;
        return in->base >= 0 && _mg_offset_of((uintptr_t)ea, &v) >= 0 && v == MG_VIEW_RO;
    }
    for (int64_t n = 1; n <= (in->disp8_scaled ? 64 : 1); n *= 2) {
        uint64_t a = ea + (uint64_t)((int64_t)in->disp * n);
        if (fault >= a && fault - a < 4096) return 1; /* the widest store, xsave, stays within this */
    }
    return 0;
}

int _mg_rebase_step(void *ucv, uintptr_t fault_addr)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    struct mg_insn in;
    if (!_mg_continue_can_trap() || depth == DEPTH) return -1;
    if (_mg_decode((const uint8_t *)g[REG_RIP], &in) != 0) return -1;
    if (!in.has_modrm || in.mod == 3 || in.rip_relative || in.segment || in.addr32) return -1;
    if (!covers(&in, g, fault_addr)) return -1;
    unsigned implicit = implicit_regs(&in);
    if (implicit == ~0u) return -1;
    int reg = -1;
    if (usable(in.base, &in, implicit, in.index)) reg = in.base;
    else if (in.scale == 0 && usable(in.index, &in, implicit, in.base)) reg = in.index;
    if (reg < 0) return -1;

    greg_t moved = g[_mg_greg_of[reg]] + (greg_t)_mg_arena.reserve;
    g[_mg_greg_of[reg]] = moved;
    stack[depth++] = (struct pending){.reg = (int8_t)reg, .step = (uint8_t)_mg_step_arm(uc), .moved = moved};
    return 0;
}

/* The newest pending entry that this context matches, or -1. */
static int find(const greg_t *g)
{
    for (int i = depth - 1; i >= 0; i--)
        if (g[_mg_greg_of[stack[i].reg]] == stack[i].moved) return i;
    return -1;
}

int _mg_rebase_finish(void *ucv, int single_step)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    if (depth == 0) return 0;
    int i = find(g);
    /* A single-step trap with a register moved, which no longer holds the moved value: the
     * instruction changed it after all (a form the checks above missed). Move it back from
     * whatever it holds: better a wrong register than a process killed by our own trap. */
    if (i < 0 && single_step) i = depth - 1;
    if (i < 0) return 0;
    g[_mg_greg_of[stack[i].reg]] -= (greg_t)_mg_arena.reserve;
    _mg_step_disarm(uc, stack[i].step);
    depth = i; /* newer entries were left behind by a handler that jumped away */
    return 1;
}

int _mg_rebase_active(const void *ucv)
{
    const ucontext_t *uc = ucv;
    return depth > 0 && find(uc->uc_mcontext.gregs) >= 0;
}

#pragma GCC visibility pop
