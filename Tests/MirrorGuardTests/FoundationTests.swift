// FoundationTests.swift — the arena, the mg_ API, faults and reports, options, and the pure-C
// preload library. Each bug fixture must produce one report of the right KIND that names the
// buggy function (and the allocation and free sites where there are some); each correct
// program must print what it should, exit 0, and report nothing.
import Foundation
import Testing

@Suite("Foundation", .serialized)
struct FoundationTests {
    @Test("libmirrorguard.so is pure C: no Swift library in its NEEDED entries")
    func libraryIsPureC() {
        let r = run("/usr/bin/readelf", ["-d", Pkg.library])
        #expect(r.status == 0)
        let needed = r.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(needed.contains { $0.contains("libunwind") }, "\(needed)")
        #expect(!needed.contains { $0.lowercased().contains("swift") }, "\(needed)")
        #expect(!r.stdout.contains("RUNPATH"), "the preload library must not carry a toolchain RUNPATH")
    }

    @Test("every mg_ call on a correct program, under each backing and guard method",
          arguments: ["", "backing=memfd", "backing=shm", "backing=tmpfile", "guard=mprotect",
                      "backing=tmpfile:guard=mprotect", "alignment=1", "protect_below=1"])
    func apiBasics(options: String) {
        let r = runFixture("api_basic", linked: true, options: options)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.hasSuffix("ok\n"), "\(r.stdout)")
        #expect(Report.all(in: r.stderr).isEmpty, "\(r.stderr)")
        if options.contains("backing=") {
            let wanted = options.components(separatedBy: "backing=")[1].components(separatedBy: ":")[0]
            #expect(r.stdout.contains("backing \(wanted) "), "\(r.stdout)")
        }
        if options.contains("guard=mprotect") { #expect(r.stdout.contains("guard mprotect"), "\(r.stdout)") }
    }

    @Test("auto picks MADV_GUARD_INSTALL when the kernel has it on shmem, and says so")
    func guardAuto() {
        // Does this kernel take guards on the arena? guard=madvise warns when it cannot.
        let forced = runFixture("api_basic", linked: true, options: "guard=madvise")
        let kernelHasGuards = !forced.stderr.contains("MADV_GUARD_INSTALL does not work")
        let r = runFixture("api_basic", linked: true, options: "verbosity=1")
        #expect(r.status == 0)
        #expect(r.stderr.contains("arena on memfd"), "\(r.stderr)")
        #expect(r.stdout.contains(kernelHasGuards ? "guard madvise" : "guard mprotect"), "\(r.stdout)")
        #expect(r.stderr.contains(kernelHasGuards ? "guards by madvise" : "guards by mprotect"), "\(r.stderr)")
    }

    @Test("the arena grows past 1 GiB without moving or damaging objects")
    func growth() {
        let r = runFixture("api_growth", linked: true)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout == "arena over 1 GiB: yes, live 1200\n")
    }

    @Test("a failed growth gives NULL with ENOMEM and leaves the arena intact")
    func growthFailure() {
        let r = runFixture("api_enomem", linked: true)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == """
            allocated some, then ENOMEM
            first object intact
            small allocation after failure: handled

            """)
        #expect(Report.all(in: r.stderr).isEmpty)
    }

    @Test("a reservation the address space cannot hold: allocations fail with ENOMEM, no crash")
    func reservationFailure() {
        let r = runFixture("api_basic", linked: true, options: "arena_gb=65536")
        #expect(r.stderr.contains("cannot create the arena"), "\(r.stderr)")
        #expect(r.stdout.contains("FAILED: ro != NULL"), "\(r.stdout)")
        #expect(r.status == 1)
    }

    @Test("a write through the read-only view is a stray-write naming the writer and the allocation")
    func strayWrite() {
        let r = runFixture("stray_write", linked: true)
        #expect(r.stdout == "balance 100\n")
        let report = expectReport(r, kind: "stray-write", in: "write_through_ro", allocatedIn: "make_account")
        #expect(report?.access == "WRITE")
        #expect(report?.frames.first == "write_through_ro")
        #expect(report?.summary == "write_through_ro")
        #expect(report?.location?.contains("0 bytes inside a 32-byte region") == true, "\(report?.text ?? "")")
    }

    @Test("reading past the end of an object hits its guard page", arguments: ["", "guard=mprotect", "backing=tmpfile"])
    func overflow(options: String) {
        let r = runFixture("api_overflow", linked: true, options: options)
        let report = expectReport(r, kind: "heap-buffer-overflow", in: "read_past_end", allocatedIn: "make_table")
        #expect(report?.access == "READ")
        #expect(report?.location?.contains("0 bytes after a 32-byte region") == true)
    }

    @Test("a read after mg_free names the allocation and the free", arguments: ["", "guard=mprotect"])
    func useAfterFree(options: String) {
        let r = runFixture("api_use_after_free", linked: true, options: options)
        expectReport(r, kind: "heap-use-after-free", in: "read_after_free", allocatedIn: "make_counter",
                     freedIn: "release")
    }

    @Test("double and invalid frees through the API")
    func badFrees() {
        expectReport(runFixture("api_double_free", linked: true, args: ["double"]),
                     kind: "double-free", in: "free_again", allocatedIn: "make_name", freedIn: "free_once")
        let interior = expectReport(runFixture("api_double_free", linked: true, args: ["interior"]),
                                    kind: "invalid-free", in: "free_interior", allocatedIn: "make_name")
        #expect(interior?.location?.contains("8 bytes inside a 32-byte region") == true)
        let stack = expectReport(runFixture("api_double_free", linked: true, args: ["stack"]),
                                 kind: "invalid-free", in: "free_stack")
        #expect(stack?.text.contains("not in MirrorGuard's arena") == true)
        // In continue mode the bad free is reported and skipped; the program runs on.
        let cont = runFixture("api_double_free", linked: true, options: "on_error=continue", args: ["double"])
        #expect(cont.status == 0 && cont.stdout == "after the bad free\n")
        #expect(Report.all(in: cont.stderr).map(\.kind) == ["double-free"])
    }

    @Test("SIGBUS inside the arena is an arena-bus-error")
    func busError() {
        expectReport(runFixture("api_bus_error", linked: true), kind: "arena-bus-error", in: "read_beyond_file")
    }

    @Test("a handler the program installs after ours still gets its own faults; ours reports first")
    func handlerInstalledAfter() {
        let own = runFixture("own_handler_after", linked: true, args: ["null"])
        #expect(own.status == 7, "\(own.stderr)")
        #expect(own.stdout == "previous handler was default\ncrash reporter caught signal\n")
        #expect(Report.all(in: own.stderr).isEmpty)
        let heap = runFixture("own_handler_after", linked: true, args: ["heap"])
        expectReport(heap, kind: "heap-buffer-overflow", in: "overflow", allocatedIn: "main")
        #expect(!heap.stdout.contains("crash reporter"))
    }

    @Test("a handler installed before MirrorGuard was loaded is chained")
    func handlerInstalledBefore() {
        let env = ["MG_LIBRARY": Pkg.library]
        let bin = Pkg.fixture("own_handler_before")
        let own = run(bin, ["null"], env: env)
        #expect(own.status == 7, "\(own.stdout)\(own.stderr)")
        #expect(own.stdout == "loaded\ncrash reporter caught signal\n")
        let heap = run(bin, ["heap"], env: env)
        expectReport(heap, kind: "heap-buffer-overflow", in: "overflow")
        #expect(!heap.stdout.contains("crash reporter"))
    }

    @Test("without a handler of the program's, a foreign fault still kills it with SIGSEGV")
    func defaultActionKept() {
        let r = runFixture("null_deref")
        #expect(r.signaled && r.status == SIGSEGV, "status \(r.status)\n\(r.stderr)")
        #expect(r.stdout == "before\n")
        #expect(Report.all(in: r.stderr).isEmpty)
        let sh = run("/bin/sh", ["-c", "kill -SEGV $$"], env: ["LD_PRELOAD": Pkg.library])
        #expect(sh.signaled && sh.status == SIGSEGV, "status \(sh.status)")
    }

    @Test("concurrent faults from two threads give two whole reports, never interleaved")
    func concurrentReports() {
        let r = runFixture("two_thread_faults", linked: true, options: "on_error=continue")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "values 1 2, reports 2\n")
        let reports = Report.all(in: r.stderr)
        #expect(reports.count == 2, "\(r.stderr)")
        #expect(Set(reports.map { $0.frames.first ?? "" }) == ["first_writer", "second_writer"])
        for report in reports {
            #expect(report.kind == "stray-write")
            // A whole report: one ERROR line, then frames, location, allocation stack, SUMMARY.
            #expect(report.text.components(separatedBy: "==ERROR:").count == 2)
            #expect(report.summary == report.frames.first)
            #expect(!report.allocatedBy.isEmpty)
        }
    }

    @Test("bad options print one clear line each and keep their defaults")
    func badOptions() {
        let r = runFixture("stray_write", linked: true, options: "bogus=1:alignment=3:exitcode=abc:guard=sometimes:verbosity")
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("MirrorGuard: ") }
        #expect(lines.count == 5, "\(r.stderr)")
        #expect(lines.contains { $0.contains("unknown option 'bogus'") })
        #expect(lines.contains { $0.contains("'alignment'") && $0.contains("power of 2") })
        #expect(lines.contains { $0.contains("'exitcode'") })
        #expect(lines.contains { $0.contains("'guard'") })
        #expect(lines.contains { $0.contains("'verbosity'") && $0.contains("key=value") })
        // The defaults held: the report still comes, with exit status 23.
        expectReport(r, kind: "stray-write", in: "write_through_ro")
    }

    @Test("help=1 lists every option with its default")
    func helpOption() {
        let r = runFixture("api_basic", linked: true, options: "help=1")
        #expect(r.status == 0)
        for key in ["mode=guard", "protect_below=0", "alignment=16", "fill=-1", "quarantine_mb=256",
                    "on_error=abort", "exitcode=23", "log_path=", "log_format=text", "detect_leaks=0",
                    "max_frames=24", "guard=auto", "verbosity=0"] {
            #expect(r.stderr.contains("  \(key)"), "missing \(key)")
        }
    }

    @Test("exitcode sets the status after a report")
    func exitCode() {
        let r = runFixture("stray_write", linked: true, options: "exitcode=77")
        expectReport(r, kind: "stray-write", in: "write_through_ro", status: 77)
    }

    @Test("log_path writes reports to PREFIX.<pid> instead of stderr")
    func logPath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mg-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = runFixture("stray_write", linked: true, options: "log_path=\(dir.path)/report")
        #expect(r.status == 23)
        #expect(Report.all(in: r.stderr).isEmpty)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files.count == 1 && files[0].hasPrefix("report."), "\(files)")
        let text = try String(contentsOf: dir.appendingPathComponent(files[0]), encoding: .utf8)
        #expect(Report.all(in: text).first?.kind == "stray-write")
    }

    @Test("log_format=json writes one parseable object per report")
    func jsonReport() throws {
        let r = runFixture("api_use_after_free", linked: true, options: "log_format=json")
        #expect(r.status == 23)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 1, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        let json = try #require(object)
        #expect(json["kind"] as? String == "heap-use-after-free")
        #expect(json["access"] as? String == "READ")
        let frames = try #require(json["frames"] as? [[String: Any]])
        #expect(frames.first?["function"] as? String == "read_after_free")
        #expect((frames.first?["module"] as? String)?.contains("/api_use_after_free") == true)
        #expect((frames.first?["module_offset"] as? String)?.hasPrefix("0x") == true)
        let region = try #require(json["region"] as? [String: Any])
        #expect(region["size"] as? Int == 8)
        let alloc = try #require(json["allocated_by"] as? [String: Any])
        #expect(((alloc["frames"] as? [[String: Any]])?.first?["function"] as? String) == "make_counter")
        let freed = try #require(json["freed_by"] as? [String: Any])
        #expect(((freed["frames"] as? [[String: Any]])?.first?["function"] as? String) == "release")
    }
}
