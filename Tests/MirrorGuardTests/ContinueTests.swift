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

    @Test("threads doing thousands of stray writes into one page: every value lands, each site is reported",
          arguments: [2, 4], ["auto", "step", "open"])
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
        #expect(summary(r) == "MirrorGuard: continued after errors: stray-write \(2 * writes * count) (2 sites)")
    }

    @Test("writes by vector and string instructions land, one report per instruction",
          arguments: ["auto", "step", "open"])
    func vectorWrites(method: String) {
        let r = runFixture("continue_vector", linked: true, options: "on_error=continue:continue_method=\(method)")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "bad bytes 0, reports few\n")
        let reports = Report.all(in: r.stderr)
        #expect(!reports.isEmpty && reports.allSatisfy { $0.kind == "stray-write" })
        #expect(reports.contains { $0.frames.prefix(3).contains("clear_record") }, "\(r.stderr)")
        // open leaves the pages open after the memset, so only step (and auto) see the memcpy.
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
