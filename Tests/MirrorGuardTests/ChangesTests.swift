// ChangesTests.swift — changes_at_exit=1 (`mirrorguard run --changes`): a snapshot at start-up,
// or when a signal arrives (changes_signal=N, `--changes-on-signal`), and at exit the allocation
// sites whose objects changed since, with their counts.
import Foundation
import Testing

@Suite("Changes at exit", .serialized)
struct ChangesTests {
    @Test("the exit summary names each site with its counts; objects born and freed since net out")
    func summary() {
        let r = runFixture("changes_at_exit", options: "changes_at_exit=1")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasSuffix("==MirrorGuard: heap changes since start-up, by allocation site:") == true, "\(r.stderr)")
        let site = lines.firstIndex { $0.contains("4 allocated") }
        #expect(site != nil, "\(r.stderr)")
        if let site { #expect(lines[site + 1].contains(" in load_settings+"), "\(r.stderr)") }
        #expect(!r.stderr.contains("fill_cache"), "allocated and freed during the run: no change between start and exit")
        #expect(Report.all(in: r.stderr).isEmpty)
    }

    @Test("mirrorguard run --changes passes it on")
    func harnessFlag() {
        let harness = Pkg.root.appendingPathComponent(".build/debug/mirrorguard").path
        let r = run(harness, ["run", "--changes", "--", Pkg.fixture("changes_at_exit")], env: ["MIRRORGUARD_LIBRARY": Pkg.library])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("heap changes since start-up, by allocation site:"), "\(r.stderr)")
        #expect(r.stderr.contains("load_settings"), "\(r.stderr)")
    }

    @Test("changes_signal: the snapshot is the heap when the signal arrived, not at start-up")
    func onSignal() {
        let r = runFixture("changes_signal", options: "changes_at_exit=1:changes_signal=\(SIGUSR2)")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasSuffix("==MirrorGuard: heap changes since signal \(SIGUSR2), by allocation site:") == true, "\(r.stderr)")
        // load_settings: the write before the signal is not counted; the one after is, with the free.
        let settings = lines.firstIndex { $0.contains("1 written (5 bytes), 0 allocated, 1 freed") }
        #expect(settings.map { lines[$0 + 1].contains(" in load_settings+") } == true, "\(r.stderr)")
        let grown = lines.firstIndex { $0.contains("0 written (0 bytes), 2 allocated, 0 freed") }
        #expect(grown.map { lines[$0 + 1].contains(" in grow_table+") } == true, "\(r.stderr)")
        #expect(Report.all(in: r.stderr).isEmpty)
    }

    @Test("changes_signal: a signal that never came is said, and a reserved one is refused in one line")
    func signalEdges() {
        let never = runFixture("changes_at_exit", options: "changes_at_exit=1:changes_signal=\(SIGUSR1)")
        #expect(never.status == 0)
        #expect(never.stderr.contains("no snapshot was taken (the signal never arrived)"), "\(never.stderr)")
        let reserved = runFixture("changes_at_exit", options: "changes_at_exit=1:changes_signal=\(SIGSEGV)")
        #expect(reserved.status == 0)
        #expect(reserved.stderr.contains("changes_signal: that signal is not free to use"), "\(reserved.stderr)")
        #expect(reserved.stderr.contains("heap changes since start-up, by allocation site:"), "\(reserved.stderr)")
    }

    @Test("mirrorguard run --changes --changes-on-signal USR2 passes it on; a bad signal is a usage error")
    func harnessSignal() {
        let harness = Pkg.root.appendingPathComponent(".build/debug/mirrorguard").path
        let env = ["MIRRORGUARD_LIBRARY": Pkg.library]
        let r = run(harness, ["run", "--changes", "--changes-on-signal", "USR2", "--", Pkg.fixture("changes_signal")], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("heap changes since signal \(SIGUSR2), by allocation site:"), "\(r.stderr)")
        #expect(r.stderr.contains("grow_table"), "\(r.stderr)")
        let bad = run(harness, ["run", "--changes", "--changes-on-signal", "SEGV", "--", "/bin/true"], env: env)
        #expect(bad.status == 64 && bad.stderr.contains("is not a signal this can use"), "\(bad.stderr)")
        let alone = run(harness, ["run", "--changes-on-signal", "USR2", "--", "/bin/true"], env: env)
        #expect(alone.status == 64 && alone.stderr.contains("--changes-on-signal needs --changes"), "\(alone.stderr)")
    }
}
