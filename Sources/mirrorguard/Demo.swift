// Demo.swift — `mirrorguard demo`: builds the bundled example bugs with the machine's C compiler
// and runs each under the same machinery as `run`, showing its symbolized report.
//
// The sources are written to `<package>/.build/mirrorguard-demo/` (so the file:line in each
// report points at a file that stays there to be read), compiled with -g -O0 and frame pointers,
// and the one that calls the mg_ API is compiled against Sources/CShim/include and linked with
// -lmirrorguard next to the library, with an rpath so it runs from anywhere. Each report is
// checked against the kind and function the example expects; the exit status is 0 when all
// three were caught as expected, 1 otherwise.
import ArgumentParser
import Foundation
import Glibc

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build and run bundled example bugs, and show their reports.",
        discussion: """
            Three small C programs, each with one bug: a heap overflow, a use after free, and a \
            stray write through a read-only view (this one uses the mg_ API). Each is compiled \
            with cc (or $CC) into .build/mirrorguard-demo/ and run as `mirrorguard run` would \
            run it; its report is printed with file:line. Exit status 0 when every bug was \
            reported with the expected kind and function.
            """)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Run only this example: \(DemoProgram.all.map(\.name).joined(separator: ", ")).", valueName: "name"))
    var only: String?

    @Option(name: .long, help: "Colour the reports: auto (when stderr is a terminal), on or off.")
    var color: ColorChoice = .auto

    func validate() throws {
        if let only, !DemoProgram.all.contains(where: { $0.name == only }) {
            throw ValidationError(
                "no example '\(only)'; choose one of \(DemoProgram.all.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        try Failure.report {
            let library = try Locations.library()
            guard let root = Locations.packageRoot() else {
                throw Failure(
                    "cannot find the package (\(Locations.headerPath)) above \(Locations.executable.path); "
                        + "the demo needs the mirrorguard.h header to build")
            }
            let env = ProcessInfo.processInfo.environment
            guard let cc = Locations.program(env["CC"].flatMap { $0.isEmpty ? nil : $0 } ?? "cc") else {
                throw Failure("no C compiler: cc not found in PATH (install gcc or clang, e.g. with tools/setup)")
            }
            let folder = root.appendingPathComponent(".build/mirrorguard-demo")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

            let painter = Painter(enabled: color.enabled())
            let harness = Harness(runner: Runner(library: library))
            let programs = DemoProgram.all.filter { only == nil || $0.name == only }
            var caught = 0
            for (n, program) in programs.enumerated() {
                Console.error(painter.bold("━━ \(n + 1)/\(programs.count) \(program.title)"))
                let binary = try build(
                    program, in: folder, cc: cc, include: root.appendingPathComponent("Sources/CShim/include").path,
                    library: library)
                Console.error("$ mirrorguard run -- \(binary)")
                let result = try harness.run([binary], options: [])
                ReportPrinter(painter: painter).print(result.reports)
                if let r = result.reports.first, result.reports.count == 1, r.report.kind == program.expectedKind,
                    r.report.function == program.expectedFunction
                {
                    caught += 1
                    let place = r.report.location.map { " at \(ReportPrinter.shortLocation($0))" } ?? ""
                    Console.error(painter.green("✓ \(program.expectedKind) in \(program.expectedFunction)\(place)"))
                    if let code = r.report.location.flatMap(Self.sourceLine) { Console.error("    " + code) }
                    Console.error("")
                } else {
                    Console.error(
                        painter.red("✗ expected one \(program.expectedKind) in \(program.expectedFunction); ")
                            + "got \(result.reports.map { "\($0.report.kind) in \($0.report.function)" }) "
                            + "(the program \(result.termination.description))\n")
                }
            }
            Console.error("\(caught) of \(programs.count) bugs reported as expected. Sources: \(folder.path)/")
            if caught != programs.count { throw ExitCode(1) }
        }
    }

    /// The text of `FILE:LINE`, trimmed: the buggy line itself.
    private static func sourceLine(_ location: String) -> String? {
        guard let colon = location.lastIndex(of: ":"), let n = Int(location[location.index(after: colon)...]),
            let text = try? String(contentsOfFile: String(location[..<colon]), encoding: .utf8)
        else { return nil }
        let lines = text.components(separatedBy: "\n")
        return n >= 1 && n <= lines.count ? lines[n - 1].trimmingCharacters(in: .whitespaces) : nil
    }

    /// Writes `program`'s source and compiles it; returns the binary's path.
    private func build(_ program: DemoProgram, in folder: URL, cc: String, include: String, library: String) throws
        -> String
    {
        let source = folder.appendingPathComponent("\(program.name).c")
        let binary = folder.appendingPathComponent(program.name).path
        // Written and linked under temporary names, then renamed, so two demos at once never run
        // or compile a half-written file.
        try Data(program.source.utf8).write(to: source, options: .atomic)
        let partial = "\(binary).\(getpid()).tmp"
        var args = ["-g", "-O0", "-fno-omit-frame-pointer", "-fno-inline", source.path, "-o", partial]
        if program.usesAPI {
            let libdir = URL(fileURLWithPath: library).deletingLastPathComponent().path
            args += ["-I", include, "-L\(libdir)", "-lmirrorguard", "-Wl,-rpath,\(libdir)"]
        }
        guard let r = Subprocess.capture(cc, args) else { throw Failure("cannot run \(cc)") }
        guard r.ok else { throw Failure("\(cc) failed on \(source.path):\n\(r.stderr)") }
        guard rename(partial, binary) == 0 else {
            throw Failure("cannot rename \(partial) to \(binary): \(String(cString: strerror(errno)))")
        }
        return binary
    }
}
