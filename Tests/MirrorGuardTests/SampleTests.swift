// SampleTests.swift — mode=sample: one allocation in sample_rate guarded, the rest glibc's.
// Ownership by address range, the cap on guarded objects, and reports identical in form to
// guard mode (sample_rate=1 must catch everything guard mode catches).
import Foundation
import Testing

@Suite("Sample mode", .serialized)
struct SampleTests {
    @Test("guarded and glibc objects side by side: free, realloc, usable size, aligned calls")
    func ownershipByRange() {
        let r = runFixture("sample_mix", linked: true, env: ["LD_PRELOAD": Pkg.library,
                                                             "MIRRORGUARD_OPTIONS": "mode=sample:sample_rate=10"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout == "bad 0, some guarded yes, most not yes\n")
        #expect(Report.all(in: r.stderr).isEmpty)
    }

    @Test("when the guarded slots are full, allocations go to glibc")
    func slotsFull() {
        let r = runFixture("many_live", options: "mode=sample:sample_rate=1:sample_slots=100:verbosity=2")
        #expect(r.status == 0 && r.stdout == "200000 live objects ok\n", "\(r.stderr)")
        let stats = r.stderr.split(separator: "\n").first { $0.contains("guarded allocations") } ?? ""
        #expect(stats.contains("peak 100 live"), "\(r.stderr)")
    }

    @Test("sample_rate=1 catches what guard mode catches, with all three stacks")
    func rateOneCatchesEverything() {
        let options = "mode=sample:sample_rate=1"
        expectReport(runFixture("use_after_free", options: options, args: ["read"]), kind: "heap-use-after-free",
                     in: "read_stale", allocatedIn: "make_record", freedIn: "drop_record")
        expectReport(runFixture("heap_overflow", options: options, args: ["write"]), kind: "heap-buffer-overflow",
                     in: "overflow_write", allocatedIn: "main")
        expectReport(runFixture("bad_free", options: options, args: ["double"]), kind: "double-free",
                     in: "free_again", allocatedIn: "make_buffer", freedIn: "free_once")
        expectReport(runFixture("cxx_bugs", options: options, args: ["new_free"]), kind: "alloc-dealloc-mismatch",
                     in: "free_new_object")
    }

    @Test("the reports have the same form in both modes")
    func sameForm() {
        let guardMode = runFixture("use_after_free", args: ["write"])
        let sampled = runFixture("use_after_free", options: "mode=sample:sample_rate=1", args: ["write"])
        func shape(_ text: String) -> [String] {
            text.split(separator: "\n").map { line in
                line.replacingOccurrences(of: #"0x[0-9a-f]+"#, with: "0x", options: .regularExpression)
                    .replacingOccurrences(of: #"==\d+=="#, with: "==", options: .regularExpression)
                    .replacingOccurrences(of: #"thread \d+"#, with: "thread", options: .regularExpression)
            }
        }
        #expect(!guardMode.stderr.isEmpty)
        #expect(shape(guardMode.stderr) == shape(sampled.stderr))
    }

    @Test("real programs run clean when sampled")
    func realPrograms() {
        for command in ["python3 -c 'import json; print(len(json.dumps(list(range(100000)))))'",
                        "sqlite3 :memory: 'select 40 + 2;'"] {
            let plain = run("/bin/sh", ["-c", command])
            let sampled = run("/bin/sh", ["-c", command], env: ["LD_PRELOAD": Pkg.library,
                                                               "MIRRORGUARD_OPTIONS": "mode=sample:sample_rate=50"])
            #expect(sampled.status == 0 && sampled.stdout == plain.stdout && !plain.stdout.isEmpty, "\(sampled.stderr)")
            #expect(Report.all(in: sampled.stderr).isEmpty)
        }
    }
}
