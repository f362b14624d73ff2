// DecoderTests.swift — the core's x86-64 decoder (decode.c), which continue mode trusts to find
// the register an instruction addresses memory with, checked against objdump's reading of every
// instruction with one memory operand in real libraries (libc, libstdc++, libm): legacy, VEX and
// EVEX encodings, SIB forms, RIP-relative and compressed displacements.
import Foundation
import Testing

@Suite("x86-64 decoder")
struct DecoderTests {
    struct Operand: Equatable {
        var base: String, index: String, scale: Int, disp: Int
    }

    /// (bytes, objdump's text, its memory operand) for each instruction with exactly one.
    func instructions(in library: String) -> [([String], String, Operand)] {
        let dump = run("/usr/bin/env", ["objdump", "-d", "-w", library])
        let line = /^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t(.*)$/
        let memory = /(%[fg]s:)?(-?0x[0-9a-f]+|-?\d+)?\((%\w+)?(?:,%(\w+)(?:,(\d))?)?\)/
        var out: [([String], String, Operand)] = []
        for text in dump.stdout.split(separator: "\n") {
            guard let m = try? line.wholeMatch(in: String(text)) else { continue }
            let insn = String(m.2)
            let mnemonic = insn.split(separator: " ").first.map(String.init) ?? ""
            // String instructions address memory implicitly; fwait+x87 is two instructions to the CPU.
            if insn.contains("(bad)") || ["stos", "movs", "scas", "lods", "cmps", "ins", "outs", "rep", "repz", "repnz"].contains(where: { mnemonic.hasPrefix($0) })
                || m.1.hasPrefix("9b ") { continue }
            let operands = insn.matches(of: memory)
            guard operands.count == 1, let o = operands.first else { continue }
            let base = o.3.map { String($0.dropFirst()) } ?? "-"
            let index = o.4.map(String.init) ?? "-"
            // 32-bit addresses are not the arena's: the decoder need not read them.
            if base.hasPrefix("e") || index.hasPrefix("e") { continue }
            let dispText = o.2.map(String.init) ?? "0"
            let negative = dispText.hasPrefix("-")
            let digits = negative ? String(dispText.dropFirst()) : dispText
            let magnitude = digits.hasPrefix("0x") ? Int(digits.dropFirst(2), radix: 16) ?? 0 : Int(digits) ?? 0
            out.append((m.1.split(separator: " ").map(String.init), insn,
                        Operand(base: base, index: index, scale: o.5.flatMap { Int($0) } ?? 1, disp: negative ? -magnitude : magnitude)))
        }
        return out
    }

    @Test("every memory operand in libc, libstdc++ and libm decodes as objdump reads it",
          arguments: ["libc.so.6", "libstdc++.so.6", "libm.so.6"])
    func matchesObjdump(library name: String) throws {
        let path = "/usr/lib/x86_64-linux-gnu/" + name
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing")
        let checker = Pkg.fixture("decode_check", flags: [
            "-D_GNU_SOURCE", "-I", Pkg.root.appendingPathComponent("Sources/CShim").path,
            Pkg.root.appendingPathComponent("Sources/CShim/decode.c").path,
        ])
        let insns = instructions(in: path)
        #expect(insns.count > 10_000, "objdump found only \(insns.count) instructions in \(name)")
        let r = run(checker, [], stdin: insns.map { $0.0.joined(separator: " ") }.joined(separator: "\n") + "\n")
        let answers = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(answers.count == insns.count)
        var wrong: [String] = []
        for ((bytes, text, want), got) in zip(insns, answers) {
            guard got.count == 5, let scale = Int(got[2]), let disp = Int(got[3]) else {
                wrong.append("\(got.joined(separator: " ")) | \(bytes.joined(separator: " ")) | \(text)")
                continue
            }
            let ok: Bool
            if want.base == "rip" {
                ok = got[0] == "rip"
            } else {
                // EVEX scales a one-byte displacement by the operand size.
                let dispOK = got[4] == "1" ? [1, 2, 4, 8, 16, 32, 64].contains { disp * $0 == want.disp } : disp == want.disp
                let vectorIndex = ["xmm", "ymm", "zmm"].contains { want.index.hasPrefix($0) }
                let indexOK = got[1] == want.index || (got[1] == "vector" && vectorIndex)
                ok = got[0] == want.base && indexOK && (want.index == "-" || scale == want.scale) && dispOK
            }
            if !ok { wrong.append("\(got.joined(separator: " ")) | \(bytes.joined(separator: " ")) | \(text)") }
        }
        #expect(wrong.isEmpty, "\(wrong.count) of \(insns.count) differ, e.g.:\n\(wrong.prefix(10).joined(separator: "\n"))")
    }
}
