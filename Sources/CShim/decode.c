/*
 * decode.c — taking apart the x86-64 instruction that made a stray write. ASYNC-SIGNAL-SAFE.
 *
 * Continue mode needs to know, of the instruction at the faulting RIP, how it addresses memory:
 * which general registers form the address (base, index, scale, displacement), which registers
 * it reads or writes besides, and for a few simple forms (MOV, string stores) the rest of it.
 * It does not need to know what the instruction computes. So this is not a disassembler: it
 * walks the prefixes (legacy, REX, VEX, EVEX), the opcode and its map, and the ModRM/SIB/
 * displacement bytes, which have the same shape across nearly the whole instruction set.
 *
 * It reads only the bytes that belong to the instruction (which the CPU has just fetched, so they
 * are mapped), one at a time in order, and never more than 15 of them.
 */
#include <sys/ucontext.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

const int _mg_greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

/* One-byte opcodes followed by a ModRM byte (64-bit mode; 0x62, 0xC4, 0xC5 are EVEX/VEX there). */
static int map0_has_modrm(uint8_t op)
{
    if (op < 0x40) return (op & 7) < 4;
    switch (op) {
    case 0x63: case 0x69: case 0x6B:
    case 0xC0: case 0xC1: case 0xC6: case 0xC7:
    case 0xD0: case 0xD1: case 0xD2: case 0xD3:
    case 0xF6: case 0xF7: case 0xFE: case 0xFF:
        return 1;
    default:
        return (op >= 0x80 && op <= 0x8F) || (op >= 0xD8 && op <= 0xDF);
    }
}

/* Two-byte (0F xx) opcodes without a ModRM byte. */
static int map1_no_modrm(uint8_t op)
{
    switch (op) {
    case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0B: case 0x0E:
    case 0x77: case 0xA0: case 0xA1: case 0xA2: case 0xA8: case 0xA9: case 0xAA:
        return 1;
    default:
        return (op >= 0x30 && op <= 0x37) || (op >= 0x80 && op <= 0x8F) || (op >= 0xC8 && op <= 0xCF);
    }
}

int _mg_decode(const uint8_t *ip, struct mg_insn *in)
{
    const uint8_t *p = ip;
    *in = (struct mg_insn){.base = -1, .index = -1};
    in->start = ip;

    /* Legacy prefixes, then at most one REX right before the opcode. */
    for (;; p++) {
        if (p - ip >= 14) return -1;
        uint8_t b = *p;
        if (b == 0x66) in->opsize16 = 1;
        else if (b == 0x67) in->addr32 = 1;
        else if (b == 0xF2 || b == 0xF3) in->rep = b;
        else if (b == 0xF0) in->lock = 1;
        else if (b == 0x64 || b == 0x65) in->segment = b;
        else if (b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E) continue; /* no effect in 64-bit mode */
        else break;
    }
    unsigned r_ext = 0, x_ext = 0, b_ext = 0;
    if ((*p & 0xF0) == 0x40) {
        in->rex = *p++;
        in->w = (in->rex >> 3) & 1;
        r_ext = (in->rex >> 2) & 1;
        x_ext = (in->rex >> 1) & 1;
        b_ext = in->rex & 1;
    }

    if (!in->rex && (*p == 0xC5 || *p == 0xC4 || *p == 0x62)) {
        uint8_t kind = *p++;
        if (kind == 0xC5) {                          /* VEX, 2 bytes: R vvvv L pp */
            uint8_t b1 = *p++;
            in->encoding = MG_ENC_VEX;
            r_ext = !(b1 & 0x80);
            in->map = 1;
        } else if (kind == 0xC4) {                   /* VEX, 3 bytes: R X B mmmmm, W vvvv L pp */
            uint8_t b1 = *p++, b2 = *p++;
            in->encoding = MG_ENC_VEX;
            r_ext = !(b1 & 0x80);
            x_ext = !(b1 & 0x40);
            b_ext = !(b1 & 0x20);
            in->map = b1 & 0x1F;
            in->w = b2 >> 7;
        } else {                                     /* EVEX: R X B R' 0 mmm, W vvvv 1 pp, z L'L b V' aaa */
            uint8_t p0 = *p++, p1 = *p++;
            p++;
            if (!(p1 & 0x04)) return -1;             /* not EVEX after all */
            in->encoding = MG_ENC_EVEX;
            r_ext = !(p0 & 0x80);
            x_ext = !(p0 & 0x40);
            b_ext = !(p0 & 0x20);
            in->map = p0 & 0x07;
            in->w = p1 >> 7;
        }
        in->op = *p++;
        in->has_modrm = !(in->encoding == MG_ENC_VEX && in->map == 1 && in->op == 0x77); /* vzeroupper/all */
    } else {
        in->op = *p++;
        if (in->op == 0x0F) {
            uint8_t b = *p++;
            if (b == 0x38 || b == 0x3A) {
                in->map = b == 0x38 ? 2 : 3;
                in->op = *p++;
                in->has_modrm = 1;
            } else {
                in->map = 1;
                in->op = b;
                in->has_modrm = !map1_no_modrm(b);
            }
        } else {
            in->has_modrm = map0_has_modrm(in->op);
        }
    }

    if (in->has_modrm) {
        uint8_t modrm = *p++;
        in->mod = modrm >> 6;
        in->reg = (uint8_t)(((modrm >> 3) & 7) | (r_ext << 3));
        in->rm = (uint8_t)((modrm & 7) | (b_ext << 3));
        if (in->mod != 3) {
            /* Gathers and scatters (VSIB) index with a vector register, not a general one. */
            int vsib = in->encoding != MG_ENC_LEGACY && in->map == 2 &&
                       ((in->op >= 0x90 && in->op <= 0x93) || (in->op >= 0xA0 && in->op <= 0xA3) ||
                        in->op == 0xC6 || in->op == 0xC7);
            if ((modrm & 7) == 4) {
                uint8_t sib = *p++;
                unsigned index = ((sib >> 3) & 7) | (x_ext << 3), base = (sib & 7) | (b_ext << 3);
                in->scale = sib >> 6;
                if (vsib) in->vsib = 1;
                else if (index != 4) in->index = (int8_t)index;
                if ((sib & 7) == 5 && in->mod == 0) {
                    int32_t d;
                    __builtin_memcpy(&d, p, 4);
                    p += 4;
                    in->disp = d;
                } else {
                    in->base = (int8_t)base;
                }
            } else if ((modrm & 7) == 5 && in->mod == 0) {
                int32_t d;
                __builtin_memcpy(&d, p, 4);
                p += 4;
                in->disp = d;
                in->rip_relative = 1;
            } else {
                in->base = (int8_t)in->rm;
            }
            if (in->mod == 1) {
                in->disp = (int8_t)*p++;
                in->disp8_scaled = in->encoding == MG_ENC_EVEX; /* EVEX scales disp8 by the operand size */
            } else if (in->mod == 2) {
                int32_t d;
                __builtin_memcpy(&d, p, 4);
                p += 4;
                in->disp = d;
            }
        }
    }
    in->end = p;
    return p - ip <= 15 ? 0 : -1;
}

#pragma GCC visibility pop
