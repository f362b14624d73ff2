// ChangesTests.swift — changes_at_exit=1 (`mirrorguard run --changes`): a snapshot at start-up
// and, at exit, the allocation sites whose objects changed since, with their counts.
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
}
