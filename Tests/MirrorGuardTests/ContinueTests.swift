// ContinueTests.swift — on_error=continue: every stray write reported once per site and let
// through, with threads; overflows and uses after free that continue; the exit summary; and
// the step/open methods forced by continue_method.
import Foundation
import Testing

@Suite("Continue mode", .serialized)
struct ContinueTests {
    /// The "continued after errors" line of a run, or "".
    func summary(_ r: ProcessResult) -> String {
        String(r.stderr.split(separator: "\n").first { $0.hasPrefix("MirrorGuard: continued after errors:") } ?? "")
    }

    /// The totals of a summary line: (count, sites) for `kind`, or nil.
    func total(_ r: ProcessResult, _ kind: String) -> (Int, Int)? {
        let line = summary(r)
        guard let range = line.range(of: "\(kind) ") else { return nil }
        let parts = line[range.upperBound...].split(separator: " ")
        guard parts.count >= 2, let n = Int(parts[0]), let s = Int(parts[1].dropFirst()) else { return nil }
        return (n, s)
    }

    @Test("threads doing thousands of plain stray writes into one page: every value lands, every write is counted, each site reported once",
          arguments: [2, 4], ["auto", "rebase", "open"])
    func threads(count: Int, method: String) {
        let writes = 3000
        let r = runFixture("continue_threads", linked: true, options: "on_error=continue:continue_method=\(method)",
                           args: ["\(count)", "\(writes)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "\(count) threads, \(2 * writes) writes each, lost 0, wrong 0\n")
        let reports = Report.all(in: r.stderr)
        #expect(reports.allSatisfy { $0.kind == "stray-write" })
        #expect(Set(reports.compactMap { $0.frames.first }) == ["store_a", "store_b"], "\(r.stderr)")
        #expect(reports.count == 2, "one report per site, then counts")
        // MOV stores are emulated by every method but step: none slips by.
        #expect(summary(r) == "MirrorGuard: continued after errors: stray-write \(2 * writes * count) (2 sites)")
    }

    /// Runs continue_mixed and returns (result, the sites it used, the line it should print).
    func mixed(threads: Int, rounds: Int, method: String) -> (ProcessResult, [String], String) {
        let r = runFixture("continue_mixed", linked: true, options: "on_error=continue:continue_method=\(method)",
                           args: ["\(threads)", "\(rounds)"])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let sites = lines.first { $0.hasPrefix("sites: ") }?.dropFirst(7).split(separator: " ").map(String.init) ?? []
        return (r, sites, "\(threads) threads, \(rounds) rounds, lost 0, counter \(threads * rounds) of \(threads * rounds)")
    }

    @Test("every kind of writing instruction (MOV, SSE/AVX/AVX-512, read-modify-write, lock add, rep stos/movs) from 2 and 4 threads into one page: each write lands, traps and is counted; each site is reported once",
          arguments: [2, 4], ["auto", "rebase"])
    func everyInstruction(count: Int, method: String) {
        let rounds = 1500
        let (r, sites, want) = mixed(threads: count, rounds: rounds, method: method)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(sites.count >= 6, "\(r.stdout)")
        #expect(r.stdout.contains(want + "\n"), "\(r.stdout)")
        let reports = Report.all(in: r.stderr)
        #expect(reports.allSatisfy { $0.kind == "stray-write" })
        #expect(Set(reports.compactMap { $0.frames.first }) == Set(sites), "\(r.stderr)")
        #expect(reports.count == sites.count, "one report per site, then counts")
        // Exact: one fault per writing instruction, so no write went through a page left open.
        #expect(summary(r) == "MirrorGuard: continued after errors: stray-write \(count * rounds * sites.count) (\(sites.count) sites)")
    }

    @Test("the step fallback, forced: every write still lands and each site is reported", arguments: [2, 4])
    func stepFallback(count: Int) {
        let rounds = 1500
        let (r, sites, want) = mixed(threads: count, rounds: rounds, method: "step")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(want + "\n"), "\(r.stdout)")
        let reports = Report.all(in: r.stderr)
        #expect(reports.allSatisfy { $0.kind == "stray-write" })
        #expect(Set(reports.compactMap { $0.frames.first }) == Set(sites), "\(r.stderr)")
        // Its documented limit: while one thread steps with the page open, another's write to
        // that page is not trapped; and rep stos/movs trap once per element. So the count is
        // only bounded, not exact.
        let (n, s) = total(r, "stray-write") ?? (0, 0)
        #expect(s == sites.count && n > 0, "\(summary(r))")
    }

    @Test("instructions whose address register is also their data compute what the program meant",
          arguments: ["auto", "rebase", "step", "open"])
    func addressRegisterIsData(method: String) {
        let r = runFixture("continue_conflict", linked: true, options: "on_error=continue:continue_method=\(method)")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "add ok, xchg ok, cmpxchg ok, high byte ok\n", "\(r.stderr)")
        #expect(Report.all(in: r.stderr).first?.frames.first == "add_self", "\(r.stderr)")
    }

    @Test("a thread that blocks SIGTRAP: the single steps neither kill it nor change its mask",
          arguments: ["rebase", "step"])
    func trapBlocked(method: String) {
        let r = runFixture("continue_masked", linked: true, options: "on_error=continue:continue_method=\(method)")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "value 100, SIGTRAP still blocked: yes\n", "\(r.stderr)")
        let reports = Report.all(in: r.stderr)
        #expect(reports.map(\.kind) == ["stray-write"], "\(r.stderr)")
        #expect(reports.first?.frames.first == "bump", "\(r.stderr)")
    }

    @Test("one store that is both a stray write and an overflow: both reported at the program's address, and the store completes")
    func straddle() {
        let r = runFixture("continue_straddle", linked: true, options: "on_error=continue")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "p[24..31] written\n")
        let reports = Report.all(in: r.stderr)
        #expect(reports.map(\.kind) == ["stray-write", "heap-buffer-overflow"], "\(r.stderr)")
        #expect(reports.allSatisfy { $0.frames.first == "straddle" }, "\(r.stderr)")
        #expect(reports.last?.location?.contains("0 bytes after a 32-byte region") == true, "\(r.stderr)")
        // The address is the read-only one the program used: inside the region's own range.
        if let text = reports.last?.text,
           let head = text.split(separator: "\n").first, let loc = reports.last?.location {
            let addr = head.components(separatedBy: "on address ")[1].components(separatedBy: " ")[0]
            #expect(loc.contains(",\(addr))"), "\(text)")
        }
    }

    @Test("writes by vector and string instructions land, one report per instruction",
          arguments: ["auto", "rebase", "step", "open"])
    func vectorWrites(method: String) {
        let r = runFixture("continue_vector", linked: true, options: "on_error=continue:continue_method=\(method)")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "bad bytes 0, reports few\n")
        let reports = Report.all(in: r.stderr)
        #expect(!reports.isEmpty && reports.allSatisfy { $0.kind == "stray-write" })
        #expect(reports.contains { $0.frames.prefix(3).contains("clear_record") }, "\(r.stderr)")
        // open leaves the pages open after a vector store, so only the others see the memcpy.
        if method != "open" {
            #expect(reports.contains { $0.frames.prefix(3).contains("copy_record") }, "\(r.stderr)")
        }
    }

    @Test("an overflow and a use after free continue, reported once each, and the program finishes")
    func guardFaultsContinue() {
        let overflow = runFixture("heap_overflow", options: "on_error=continue", args: ["read"])
        #expect(overflow.status == 0 && overflow.stdout == "0\n", "\(overflow.stderr)")
        #expect(Report.all(in: overflow.stderr).map(\.kind) == ["heap-buffer-overflow"])
        let uaf = runFixture("use_after_free", options: "on_error=continue", args: ["write"])
        #expect(uaf.status == 0, "\(uaf.stderr)")
        #expect(Report.all(in: uaf.stderr).map(\.kind) == ["heap-use-after-free"])
        #expect(summary(uaf) == "MirrorGuard: continued after errors: heap-use-after-free 1 (1 site)")
    }

    @Test("a use after free that continued keeps its page: later batches of freed slots do not punch it away")
    func continuedUseAfterFreeKeepsItsPage() {
        let r = runFixture("punch_batch", options: "on_error=continue")
        #expect(r.status == 0 && r.stdout == "stale write kept\n", "\(r.stdout)\(r.stderr)")
        let reports = Report.all(in: r.stderr)
        #expect(reports.map(\.kind) == ["heap-use-after-free"], "\(r.stderr)")
        #expect(reports.first?.frames.first == "write_stale", "\(r.stderr)")
    }

    @Test("the exit summary totals every kind")
    func exitSummary() {
        let r = runFixture("api_double_free", linked: true, options: "on_error=continue", args: ["double"])
        #expect(summary(r) == "MirrorGuard: continued after errors: double-free 1 (1 site)")
        let clean = runFixture("api_basic", linked: true, options: "on_error=continue")
        #expect(clean.status == 0 && summary(clean).isEmpty, "no errors, no summary")
    }

    @Test("under a debugger, auto avoids SIGTRAP and says so", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb")))
    func debugger() {
        let bin = Pkg.fixture("continue_vector", linked: true)
        // Through sh, with no stdin and a time limit, so a stuck debugger cannot hang the suite.
        let r = run("/bin/sh", ["-c", "exec timeout -s KILL 60 gdb -batch -nx -ex 'handle SIGSEGV nostop noprint pass' -ex run --args \(bin) </dev/null"],
                    env: ["MIRRORGUARD_OPTIONS": "on_error=continue"])
        #expect(r.stderr.contains("a debugger is attached"), "\(r.stderr)")
        #expect(r.stdout.contains("bad bytes 0"), "\(r.stdout)")
    }
}
