/* Not a bug: a probe of the core's x86-64 decoder (decode.c, compiled in by the test). Reads one
 * instruction per line as hex bytes and prints how it addresses memory:
 *   BASE INDEX SCALE DISP DISP8_SCALED      e.g. "rdi rax 8 -16 0", "rip - 1 0 0"
 * or "nomem" (no memory operand) or "fail". The test compares this with objdump's reading. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_internal.h"

int main(void)
{
    static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        uint8_t bytes[32] = {0};
        int n = 0;
        for (char *p = strtok(line, " \n"); p && n < 15; p = strtok(NULL, " \n")) bytes[n++] = (uint8_t)strtoul(p, NULL, 16);
        struct mg_insn in;
        if (_mg_decode(bytes, &in) != 0) { puts("fail"); continue; }
        if (!in.has_modrm || in.mod == 3) { puts("nomem"); continue; }
        printf("%s %s %d %d %d\n", in.rip_relative ? "rip" : in.base >= 0 ? names[in.base] : "-",
               in.index >= 0 ? names[in.index] : in.vsib ? "vector" : "-", 1 << in.scale, in.disp, in.disp8_scaled);
    }
    return 0;
}
