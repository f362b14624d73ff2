// Run.swift — `mirrorguard run [options] -- PROGRAM [ARGS...]`, and `Harness`, the machinery it
// shares with `demo`.
//
// The story of a run: Runner starts the program with libmirrorguard.so preloaded and gathers
// the reports of every process it started; the symbolizer names all their frames in one batch
// (function, file:line); identical reports are folded; the reports and a summary are printed.
// The exit status is the program's own (128+N when signal N killed it, as a shell says) when
// nothing was reported, and --error-exitcode (default 23) when something was.
//
// --both-sides runs the program twice, first with the guard page after each object (overflows
// trap, underflows are caught at free by the canary), then before it (protect_below=1:
// underflows trap), and merges the two runs' reports.
import ArgumentParser
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program with MirrorGuard and report its heap bugs with file:line.",
        discussion: """
            Preloads libmirrorguard.so (keeping any LD_PRELOAD already set) into PROGRAM and \
            every process it starts (fork, exec, shell scripts), gathers all their reports, \
            names every frame with llvm-symbolizer (or addr2line) and swift-demangle, and prints \
            the reports on stderr followed by a summary. Identical reports are printed once, \
            with a count.

            Exit status: the program's own when nothing was reported (128+N when signal N \
            killed it), else --error-exitcode (default 23).

            The library is found next to this executable, in ../release, or at \
            $MIRRORGUARD_LIBRARY; `tools/build` builds it. Options already set in \
            MIRRORGUARD_OPTIONS apply; --options come after them.

            Examples:
              mirrorguard run -- ./prog arg1
              mirrorguard run --options alignment=1 --leaks -- make check
              mirrorguard run --log-format json -- ./prog > reports.jsonl
            """)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Library options, KEY=VALUE pairs separated by ':' (see `mirrorguard options`).",
            valueName: "K=V:..."))
    var options: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Report format: text on stderr, or json (JSON Lines on stdout, one object per distinct report).",
            valueName: "format"))
    var logFormat: LogFormat = .text

    @Flag(name: .long, help: "Report memory still allocated at exit (detect_leaks=1).")
    var leaks = false

    @Flag(
        name: .long,
        help: """
            Take a heap snapshot at start-up and, at exit, list which allocation sites' objects were \
            written, allocated or freed since (changes_at_exit=1).
            """)
    var changes = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            With --changes: take the snapshot when this signal arrives (USR1, SIGUSR2, 12, ...; again \
            at each one) instead of at start-up (changes_signal=N).
            """,
            valueName: "signal"))
    var changesOnSignal: String?

    @Flag(
        name: .long,
        help: """
            Run twice, guard pages after objects then before them (protect_below=1), and merge the \
            reports (stdin is read by the first run).
            """)
    var bothSides = false

    @Option(name: .long, help: ArgumentHelp("Exit status when anything was reported (0-255).", valueName: "N"))
    var errorExitcode: Int32 = 23

    @Option(name: .long, help: "Colour the reports: auto (when stderr is a terminal), on or off.")
    var color: ColorChoice = .auto

    @Argument(parsing: .postTerminator, help: "The program and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty {
            throw ValidationError("Give the program to run after --, e.g. mirrorguard run -- ./prog")
        }
        guard (0...255).contains(errorExitcode) else {
            throw ValidationError("--error-exitcode must be 0...255, not \(errorExitcode)")
        }
        if let changesOnSignal {
            guard changes else { throw ValidationError("--changes-on-signal needs --changes") }
            guard Self.signalNumber(changesOnSignal) != nil else {
                throw ValidationError("--changes-on-signal: '\(changesOnSignal)' is not a signal this can use (a name such as USR2, or 1...64)")
            }
        }
        for pair in try OptionTable.pairs(options ?? "") {
            if pair.hasPrefix("log_path=") {
                throw ValidationError("log_path is the harness's own: `run` gathers the reports itself")
            }
            if pair.hasPrefix("log_format=") { throw ValidationError("use --log-format instead of log_format=") }
        }
    }

    func run() throws {
        try Failure.report {
            var libraryOptions = try OptionTable.pairs(options ?? "")
            if leaks { libraryOptions.append("detect_leaks=1") }
            if changes { libraryOptions.append("changes_at_exit=1") }
            if let name = changesOnSignal, let number = Self.signalNumber(name) {
                libraryOptions.append("changes_signal=\(number)")
            }
            let harness = Harness(runner: Runner(library: try Locations.library(), format: logFormat))
            let result = try harness.run(command, options: libraryOptions, bothSides: bothSides)

            guard !result.reports.isEmpty else { throw ExitCode(result.termination.shellStatus) }
            let printer = ReportPrinter(painter: Painter(enabled: color.enabled()), bothSides: bothSides)
            printer.print(result.reports)
            printer.summary(result.reports, termination: result.termination, exitStatus: errorExitcode)
            throw ExitCode(errorExitcode)
        }
    }
}

extension Run {
    /// A signal given by name (USR2, SIGUSR2) or number; nil for those the library needs or that
    /// cannot be caught.
    static func signalNumber(_ text: String) -> Int32? {
        let names: [String: Int32] = [
            "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "USR1": SIGUSR1, "USR2": SIGUSR2, "PIPE": SIGPIPE,
            "ALRM": SIGALRM, "TERM": SIGTERM, "CHLD": SIGCHLD, "CONT": SIGCONT, "TSTP": SIGTSTP, "TTIN": SIGTTIN,
            "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF,
            "WINCH": SIGWINCH, "IO": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
        ]
        let upper = text.uppercased()
        let bare = upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
        guard let number = names[bare] ?? Int32(text), (1...64).contains(number) else { return nil }
        let reserved: Set<Int32> = [SIGSEGV, SIGBUS, SIGTRAP, SIGKILL, SIGSTOP]
        return reserved.contains(number) ? nil : number
    }
}

/// Run, symbolize, fold: what `run` and `demo` both do.
struct Harness {
    var runner: Runner
    var symbolizer = Symbolizer.detect()

    struct Result {
        var termination: Termination
        var reports: [FoldedReport]
    }

    func run(_ command: [String], options: [String], bothSides: Bool = false) throws -> Result {
        var termination: Termination?
        var reports: [Report] = []
        for side in bothSides ? [false, true] : [nil] {
            let sideOptions = side.map { ["protect_below=\($0 ? 1 : 0)"] } ?? []
            let outcome = try runner.run(command, options: options + sideOptions)
            reports += outcome.reports.map { r in
                var r = r
                r.protectBelow = side ?? false
                return r
            }
            // The status of the first run that failed, else of the first run.
            if termination == nil || termination == .exited(0) { termination = outcome.termination }
        }
        return Result(termination: termination!, reports: FoldedReport.fold(symbolize(reports)))
    }

    /// Every frame of every report named in one symbolizer batch.
    func symbolize(_ reports: [Report]) -> [Report] {
        guard !reports.isEmpty else { return reports }
        let table = symbolizer.table(
            for: Set(reports.flatMap(\.queries)), rawNames: Set(reports.flatMap(\.rawNames)))
        return reports.map { $0.symbolized(table) }
    }
}
