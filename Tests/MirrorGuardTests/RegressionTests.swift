// RegressionTests.swift — bugs a review found, each pinned by a fixture: handler chaining that
// honours SA_RESETHAND, continue-mode deduplication that keeps kinds apart, fork while another
// thread holds a write section, a use after free racing with the reuse of its slot, and signal
// handlers that write the heap while it is write-protected.
import Foundation
import Testing

@Suite("Regressions", .serialized)
struct RegressionTests {
    @Test("a chained SA_RESETHAND handler runs once, then the fault kills the process")
    func resethand() {
        let r = runFixture("chain_resethand")
        #expect(r.stdout == "handler\n", "\(r.stdout)")
        #expect(r.signaled && r.status == SIGSEGV, "status \(r.status)")
        #expect(Report.all(in: r.stderr).isEmpty)
    }

    @Test("three kinds at one instruction are three reports in continue mode")
    func kindsKeptApart() {
        let r = runFixture("continue_kinds", options: "on_error=continue")
        #expect(r.status == 0 && r.stdout == "done\n", "\(r.stderr)")
        let kinds = Report.all(in: r.stderr).map(\.kind)
        #expect(kinds == ["heap-buffer-underflow", "heap-buffer-overflow", "heap-use-after-free"], "\(r.stderr)")
        #expect(Report.all(in: r.stderr).allSatisfy { $0.frames.first == "store" })
    }

    @Test("fork while another thread is in a write section: the child can enter its own")
    func forkDuringWriteSection() {
        let r = runFixture("fork_write_section", linked: true)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "child entered its section, parent sees 1\n")
    }

    @Test("mprotect mode out of mappings: a slot whose guard could not be made is never reused")
    func noUnguardedReuse() {
        let r = runFixture("vma_exhaustion", options: "guard=mprotect:quarantine_mb=0")
        #expect(r.stdout == "ran out: yes\n", "\(r.stdout)")
        expectReport(r, kind: "heap-buffer-overflow", in: "overflow_after_exhaustion")
    }

    @Test("a signal handler writing the heap while it is write-protected (lazy forks, snapshots) neither deadlocks nor loses the write",
          arguments: [["fork"], ["snapshot"], ["fork", "kill-fpe"], ["snapshot", "kill-fpe"]])
    func signalHandlerWritesProtectedHeap(args: [String]) {
        // Run through timeout: before the fix, this hung for ever. kill-fpe: a SIGFPE sent to
        // the process, which MirrorGuard's own threads and a forking thread must block too.
        let what = args[0]
        let bin = Pkg.fixture("signal_heap_writes", linked: true)
        let r = run("/usr/bin/timeout", ["-s", "KILL", "60", bin] + args, env: ["MIRRORGUARD_OPTIONS": "fork=lazy"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "200 \(what == "fork" ? "forks" : "snapshots"), the handler ran and wrote\n")
        #expect(Report.all(in: r.stderr).isEmpty, "\(r.stderr)")
    }
}
