// HarnessTests.swift — golden tests of the built `mirrorguard` harness (CONTRACT §6).
//
// Each test runs the executable `swift test` built (.build/debug/mirrorguard) as a child, with
// MIRRORGUARD_LIBRARY pointing at the preload library tools/build made, and checks what a user
// sees: the exact exit status, the report's KIND and buggy function, file:line taken from the
// fixture's own source (never a hard-coded line), JSON fields, the summary, and the help texts.
import Foundation
import Testing

/// The harness binary and how to run it.
enum Harness {
    static let binary: String = {
        let path = Pkg.root.appendingPathComponent(".build/debug/mirrorguard").path
        precondition(FileManager.default.isExecutableFile(atPath: path), "\(path) missing: run swift build")
        return path
    }()

    /// Runs `mirrorguard ARGS` with the test library.
    static func run(_ args: [String], env: [String: String] = [:], stdin: String? = nil) -> ProcessResult {
        var e = env
        if e["MIRRORGUARD_LIBRARY"] == nil { e["MIRRORGUARD_LIBRARY"] = Pkg.library }
        return MirrorGuardTests.run(binary, args, env: e, stdin: stdin)
    }

    /// The 1-based line of the first line of Tests/Fixtures/FILE (or Tests/FILE when FILE has a
    /// folder) that contains `text`.
    static func line(of text: String, in file: String) -> Int {
        let path = file.contains("/") ? "Tests/\(file)" : "Tests/Fixtures/\(file)"
        let source = try! String(contentsOf: Pkg.root.appendingPathComponent(path), encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        guard let i = lines.firstIndex(where: { $0.contains(text) }) else {
            preconditionFailure("\(text) not in \(file)")
        }
        return i + 1
    }

    /// The frame lines (`    #N ...`) of a report's error stack.
    static func errorFrames(_ report: Report) -> [String] {
        report.text.components(separatedBy: "\n").dropFirst().prefix { $0.hasPrefix("    #") }.map { $0 }
    }
}

@Suite("Harness", .serialized, .timeLimit(.minutes(10)))
struct HarnessTests {
    // MARK: Exit status

    @Test("a clean program: its status 0, nothing printed by the harness")
    func cleanProgram() {
        let r = Harness.run(["run", "--", "/bin/true"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }

    @Test("no report: the program's own status")
    func ownStatus() {
        let r = Harness.run(["run", "--", "sh", "-c", "exit 3"])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(Report.all(in: r.stderr).isEmpty)
    }

    @Test("a program killed by a signal: 128 + the signal")
    func signaled() {
        let r = Harness.run(["run", "--", "sh", "-c", "kill -TERM $$"])
        #expect(r.status == 143, "\(r.stderr)")
        #expect(!r.signaled)
    }

    @Test("a report: status 23, the report with its kind and function, and a summary")
    func reportStatus() {
        let r = Harness.run(["run", "--", Pkg.fixture("heap_overflow"), "write"])
        expectReport(r, kind: "heap-buffer-overflow", in: "overflow_write", allocatedIn: "main", status: 23)
        #expect(r.stderr.contains("MirrorGuard: 1 report (1 distinct) from 1 process"), "\(r.stderr)")
        #expect(r.stderr.contains("heap-buffer-overflow: 1"))
    }

    @Test("--error-exitcode sets the status after a report, and not without one")
    func errorExitcode() {
        let bug = Harness.run(["run", "--error-exitcode", "9", "--", Pkg.fixture("heap_overflow"), "write"])
        expectReport(bug, kind: "heap-buffer-overflow", in: "overflow_write", status: 9)
        let clean = Harness.run(["run", "--error-exitcode", "9", "--", "sh", "-c", "exit 4"])
        #expect(clean.status == 4)
    }

    @Test("a missing program: 127; a missing library: a message naming it")
    func missing() {
        let noProgram = Harness.run(["run", "--", "/nonexistent/prog"])
        #expect(noProgram.status == 127)
        #expect(noProgram.stderr.contains("/nonexistent/prog: command not found"), "\(noProgram.stderr)")
        let noLibrary = Harness.run(
            ["run", "--", "/bin/true"], env: ["MIRRORGUARD_LIBRARY": "/nonexistent/libmirrorguard.so"])
        #expect(noLibrary.status == 1)
        #expect(noLibrary.stderr.contains("MIRRORGUARD_LIBRARY=/nonexistent/libmirrorguard.so"), "\(noLibrary.stderr)")
    }

    // MARK: Symbolization

    @Test("frames carry file:line from the fixture's debug info")
    func fileAndLine() throws {
        let r = Harness.run(["run", "--", Pkg.fixture("heap_overflow"), "write"])
        let report = try #require(expectReport(r, kind: "heap-buffer-overflow", in: "overflow_write"))
        let frames = Harness.errorFrames(report)
        let bugLine = Harness.line(of: "static void overflow_write(", in: "heap_overflow.c")
        let callLine = Harness.line(of: "overflow_write(p, 32);", in: "heap_overflow.c")
        let mallocLine = Harness.line(of: "malloc(32)", in: "heap_overflow.c")
        #expect(frames.first?.contains(" in overflow_write ") == true, "\(report.text)")
        #expect(frames.first?.contains("Tests/Fixtures/heap_overflow.c:\(bugLine) (") == true, "\(report.text)")
        #expect(frames.dropFirst().first?.contains(" in main ") == true)
        #expect(frames.dropFirst().first?.contains("heap_overflow.c:\(callLine) (") == true, "\(report.text)")
        let allocation = report.text.components(separatedBy: "allocated by thread").last ?? ""
        #expect(allocation.contains("heap_overflow.c:\(mallocLine) ("), "\(report.text)")
        #expect(report.summary == "overflow_write")
    }

    @Test("symbolize adds file:line to text read on stdin and leaves other lines alone, twice over")
    func symbolizeText() {
        let raw = runFixture("heap_overflow", args: ["write"])
        #expect(!raw.stderr.contains("heap_overflow.c:"))
        let input = "before\n" + raw.stderr + "after\n"
        let once = Harness.run(["symbolize"], stdin: input)
        #expect(once.status == 0)
        let bugLine = Harness.line(of: "static void overflow_write(", in: "heap_overflow.c")
        let reports = Report.all(in: once.stdout)
        #expect(reports.count == 1)
        #expect(reports.first?.frames.first == "overflow_write")
        #expect(
            once.stdout.contains("in overflow_write \(Pkg.root.path)/Tests/Fixtures/heap_overflow.c:\(bugLine) ("),
            "\(once.stdout)")
        #expect(once.stdout.hasPrefix("before\n==") && once.stdout.hasSuffix("after\n"), "\(once.stdout)")
        let twice = Harness.run(["symbolize"], stdin: once.stdout)
        #expect(twice.stdout == once.stdout)
    }

    @Test("symbolize adds file and line to JSON Lines")
    func symbolizeJSON() throws {
        let raw = runFixture("heap_overflow", options: "log_format=json", args: ["write"])
        let out = Harness.run(["symbolize"], stdin: raw.stderr)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
        let frame = try #require((object["frames"] as? [[String: Any]])?.first)
        #expect(frame["function"] as? String == "overflow_write")
        #expect((frame["file"] as? String)?.hasSuffix("Tests/Fixtures/heap_overflow.c") == true)
        #expect(frame["line"] as? Int == Harness.line(of: "static void overflow_write(", in: "heap_overflow.c"))
    }

    @Test("C++ names are demangled by the symbolizer, Swift names by swift-demangle")
    func demangling() {
        let cxx = Harness.run(["run", "--", Pkg.fixture("cxx_bugs"), "use_after_delete"])
        #expect(cxx.status == 23)
        let line = Harness.line(of: "static int read_deleted(", in: "cxx_bugs.cpp")
        #expect(
            cxx.stderr.contains(
                " in read_deleted(Widget const*) \(Pkg.root.path)/Tests/Fixtures/cxx_bugs.cpp:\(line) ("),
            "\(cxx.stderr)")
        #expect(cxx.stderr.contains("==SUMMARY: MirrorGuard: heap-use-after-free in read_deleted(Widget const*)\n"))

        let swift = Harness.run([
            "run", "--", Pkg.root.appendingPathComponent(".build/debug/SwiftFixture").path, "stray",
        ])
        #expect(swift.status == 23)
        let write = Harness.line(of: ".pointee = 0", in: "SwiftFixture/main.swift")
        #expect(
            swift.stderr.contains(" in scribble(_:) \(Pkg.root.path)/Tests/SwiftFixture/main.swift:\(write) ("),
            "\(swift.stderr)")
        #expect(swift.stderr.contains("==SUMMARY: MirrorGuard: stray-write in scribble(_:)\n"), "\(swift.stderr)")
        #expect(!swift.stderr.contains("$s"), "a Swift name stayed mangled:\n\(swift.stderr)")
    }

    // MARK: Gathering

    @Test("a report from a program a shell script starts is gathered")
    func childOfScript() throws {
        let script = Pkg.scratch.appendingPathComponent("harness-script.sh")
        try "#!/bin/sh\n\(Pkg.fixture("heap_overflow")) write\necho script went on\n"
            .write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        let r = Harness.run(["run", "--", script.path])
        expectReport(r, kind: "heap-buffer-overflow", in: "overflow_write", status: 23)
        #expect(r.stdout == "script went on\n")

        let shell = Harness.run(["run", "--", "sh", "-c", "\(Pkg.fixture("heap_overflow")) write; true"])
        expectReport(shell, kind: "heap-buffer-overflow", in: "overflow_write", status: 23)
    }

    @Test("identical reports from two processes are folded with a count")
    func folding() {
        let f = Pkg.fixture("heap_overflow")
        let r = Harness.run(["run", "--", "sh", "-c", "\(f) write; \(f) write; \(f) read; true"])
        #expect(r.status == 23)
        let reports = Report.all(in: r.stderr)
        #expect(reports.map(\.frames.first) == ["overflow_write", "overflow_read"], "\(r.stderr)")
        #expect(r.stderr.contains("(the same report came 2 times, from processes "), "\(r.stderr)")
        #expect(r.stderr.contains("MirrorGuard: 3 reports (2 distinct) from 3 processes"), "\(r.stderr)")
        #expect(r.stderr.contains("heap-buffer-overflow: 3"), "\(r.stderr)")
    }

    @Test("the program's own stderr still reaches the user, and LD_PRELOAD and MIRRORGUARD_OPTIONS are kept")
    func environment() {
        let libm = "/lib/x86_64-linux-gnu/libm.so.6"
        let r = Harness.run(
            [
                "run", "--options", "fill=170", "--", "sh", "-c",
                "echo \"$LD_PRELOAD|$MIRRORGUARD_OPTIONS\"; echo oops >&2",
            ],
            env: ["LD_PRELOAD": libm, "MIRRORGUARD_OPTIONS": "alignment=1"])
        #expect(r.status == 0)
        #expect(r.stderr == "oops\n")
        let parts = r.stdout.trimmingCharacters(in: .newlines).components(separatedBy: "|")
        #expect(parts.first == "\(Pkg.library):\(libm)", "\(r.stdout)")
        #expect(parts.last?.hasPrefix("alignment=1:fill=170:log_format=text:log_path=") == true, "\(r.stdout)")
    }

    @Test("--leaks reports what is still allocated at exit")
    func leaks() {
        let r = Harness.run(["run", "--leaks", "--", Pkg.fixture("leaks")])
        #expect(r.status == 23)
        let reports = Report.all(in: r.stderr)
        #expect(!reports.isEmpty && reports.allSatisfy { $0.kind == "memory-leak" }, "\(r.stderr)")
        #expect(reports.contains { $0.frames.first == "leak_buffers" }, "\(r.stderr)")
    }

    // MARK: JSON and both sides

    @Test("--log-format json: one JSON object per report on stdout, frames with file and line")
    func json() throws {
        let r = Harness.run(["run", "--log-format", "json", "--", Pkg.fixture("use_after_free")])
        #expect(r.status == 23)
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 1, "\(r.stdout)")
        let line = try #require(lines.first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["kind"] as? String == "heap-use-after-free")
        #expect(object["access"] as? String == "READ")
        #expect(object["count"] as? Int == 1)
        func frames(_ value: Any?) -> [[String: Any]] { (value as? [String: Any])?["frames"] as? [[String: Any]] ?? [] }
        let error = object["frames"] as? [[String: Any]] ?? []
        #expect(error.first?["function"] as? String == "read_stale")
        #expect((error.first?["file"] as? String)?.hasSuffix("Tests/Fixtures/use_after_free.c") == true)
        #expect(error.first?["line"] as? Int == Harness.line(of: "static int read_stale(", in: "use_after_free.c"))
        let allocated = frames(object["allocated_by"])
        #expect(allocated.first?["function"] as? String == "make_record")
        #expect(allocated.first?["line"] as? Int == Harness.line(of: "malloc(sizeof *r)", in: "use_after_free.c"))
        let freed = frames(object["freed_by"])
        #expect(freed.first?["function"] as? String == "drop_record")
        #expect(freed.first?["line"] as? Int == Harness.line(of: "static void drop_record(", in: "use_after_free.c"))
        #expect(!r.stderr.contains("==ERROR:"), "text reports must not be printed in JSON mode")
    }

    @Test("--both-sides catches an underflow at once (protect_below=1) and at free (canary)")
    func bothSides() {
        let once = Harness.run(["run", "--", Pkg.fixture("underflow")])
        expectReport(once, kind: "heap-buffer-underflow", in: "release")

        let r = Harness.run(["run", "--both-sides", "--", Pkg.fixture("underflow")])
        #expect(r.status == 23)
        let reports = Report.all(in: r.stderr)
        #expect(reports.count == 2, "\(r.stderr)")
        #expect(reports.allSatisfy { $0.kind == "heap-buffer-underflow" })
        #expect(reports.map(\.frames.first) == ["release", "underflow_near"], "\(r.stderr)")
        #expect(r.stderr.contains("(found with guard pages before objects (protect_below=1))"))

        // An overflow is the same report on both runs only where it traps; both runs agree here.
        let overflow = Harness.run(["run", "--both-sides", "--", Pkg.fixture("heap_overflow"), "write"])
        #expect(overflow.status == 23)
        #expect(Report.all(in: overflow.stderr).contains { $0.frames.first == "overflow_write" })
    }

    // MARK: Other subcommands

    @Test("options lists the library's table")
    func options() {
        let r = Harness.run(["options"])
        #expect(r.status == 0)
        for line in ["  protect_below=0  [0..1]", "  exitcode=23  [0..255]", "  log_format=text  [text|json]"] {
            #expect(r.stdout.contains(line), "\(line) missing:\n\(r.stdout)")
        }
    }

    @Test("doctor shows each feature and what MirrorGuard uses")
    func doctor() throws {
        let r = Harness.run(["doctor"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.components(separatedBy: "\n")
        func row(_ feature: String) -> String? { rows.first { $0.hasPrefix(feature + "  ") } }
        for feature in [
            "libmirrorguard.so", "memfd_create", "MADV_GUARD_INSTALL on shmem", "userfaultfd",
            "userfaultfd write-protect on shmem", "protection keys (pkey_alloc)", "vm.max_map_count",
            "llvm-symbolizer", "addr2line", "libunwind",
        ] {
            #expect(row(feature) != nil, "no \(feature) row:\n\(r.stdout)")
        }
        let maxMaps = try String(contentsOfFile: "/proc/sys/vm/max_map_count", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(row("vm.max_map_count")?.contains(" \(maxMaps) ") == true, "\(r.stdout)")
        #expect(row("memfd_create")?.contains(" yes ") == true, "\(r.stdout)")
        #expect(row("libmirrorguard.so")?.hasSuffix(Pkg.library) == true, "\(r.stdout)")
        // What the library picks comes from the library: the two rows agree with its banner.
        let banner = run("/bin/true", [], env: ["LD_PRELOAD": Pkg.library, "MIRRORGUARD_OPTIONS": "verbosity=1"]).stderr
        let madvise = banner.contains("guards by madvise")
        #expect(
            row("MADV_GUARD_INSTALL on shmem")?.contains(madvise ? "by madvise" : "by mprotect") == true, "\(r.stdout)")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/llvm-symbolizer") {
            #expect(row("llvm-symbolizer")?.contains(" yes ") == true, "\(r.stdout)")
        }
    }

    @Test("demo builds three bugs and catches each with its kind and function")
    func demo() {
        let r = Harness.run(["demo", "--color", "off"])
        #expect(r.status == 0, "\(r.stderr)")
        let reports = Report.all(in: r.stderr)
        #expect(reports.map(\.kind) == ["heap-buffer-overflow", "heap-use-after-free", "stray-write"], "\(r.stderr)")
        #expect(reports.map(\.frames.first) == ["fill_squares", "session_id", "enable_debug"], "\(r.stderr)")
        #expect(reports.allSatisfy { $0.text.contains(".build/mirrorguard-demo/") && $0.text.contains(".c:") })
        #expect(r.stderr.contains("3 of 3 bugs reported as expected"))
        #expect(r.stdout.contains("listening on port 8080"))
    }

    // MARK: Help and validation

    @Test(
        "every subcommand has help with its abstract",
        arguments: [
            (
                "run", "Run a program with MirrorGuard",
                ["--both-sides", "--error-exitcode", "--log-format", "--leaks", "--options", "--color"]
            ),
            ("demo", "Build and run bundled example bugs", ["--only", "--color"]),
            ("symbolize", "Add file:line to MirrorGuard reports", ["--color"]),
            ("options", "Print every MIRRORGUARD_OPTIONS key", []),
            ("doctor", "what this machine offers", []),
        ])
    func help(command: String, abstract: String, options: [String]) {
        let r = Harness.run([command, "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: mirrorguard \(command)"), "\(r.stdout)")
        #expect(r.stdout.contains(abstract), "\(r.stdout)")
        let lines = r.stdout.components(separatedBy: "\n")
        for option in options {
            // Help text follows the option's name on its line, and goes on on the next ones.
            guard let i = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(option + " ") })
            else {
                Issue.record("\(option) missing from help:\n\(r.stdout)")
                continue
            }
            var text = lines[i]
            if i + 1 < lines.count, lines[i + 1].hasPrefix("        ") { text += " " + lines[i + 1] }
            let words = text.split(separator: " ").filter { !$0.hasPrefix("--") && !$0.hasPrefix("<") }
            #expect(
                words.count >= 3,
                "\(option) lacks help:\n\(r.stdout)")
        }
    }

    @Test(
        "bad input is refused with a usage error",
        arguments: [
            (["run"], "Give the program to run after --"),
            (["run", "--error-exitcode", "300", "--", "/bin/true"], "--error-exitcode must be 0...255"),
            (["run", "--options", "bogus=1", "--", "/bin/true"], "unknown option 'bogus'"),
            (["run", "--options", "alignment", "--", "/bin/true"], "'alignment' in --options is not KEY=VALUE"),
            (["run", "--options", "log_path=/tmp/x", "--", "/bin/true"], "log_path is the harness's own"),
            (["run", "--log-format", "xml", "--", "/bin/true"], "xml"),
            (["demo", "--only", "nope"], "no example 'nope'"),
            (["symbolize", "/nonexistent/report"], "cannot read /nonexistent/report"),
        ])
    func validation(args: [String], message: String) {
        let r = Harness.run(args)
        #expect(r.status == 64, "\(args): \(r.status)\n\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }
}
