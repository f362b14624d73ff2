// Runner.swift — running one program under MirrorGuard and gathering the reports of every
// process it starts.
//
// The program runs with libmirrorguard.so first in LD_PRELOAD (after it, whatever LD_PRELOAD
// already held) and with MIRRORGUARD_OPTIONS = the user's own, then `--options`, then what the
// harness needs, last so that it wins: `log_format` (the format the harness will print) and
// `log_path=<private folder>/report`. Every process that inherits the environment — children
// after fork, programs after exec, shell scripts and what they start — writes its reports to
// `report.<its pid>` in that folder, one write(2) per report, so the harness reads them all once
// the program has ended and removes the folder. The child's stdin, stdout and stderr are the
// harness's own: a program's output reaches the user as it would without MirrorGuard.
//
// The program starts with an empty signal mask, whatever mask the harness inherited.
// While the program runs, Ctrl-C (SIGINT, SIGQUIT from the terminal, sent to the whole
// process group) must end the program, not the harness, or the reports would be lost: the
// harness catches them and does nothing, and passes SIGTERM and SIGHUP on to the program, until
// the program has ended. Caught (not ignored) signals return to their default action in the
// program at exec.
import ArgumentParser
import Foundation
import Glibc

enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// How a program ended, as a shell reports it.
enum Termination: Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// The status a shell gives: the exit status, or 128 + the signal number.
    var shellStatus: Int32 {
        switch self {
        case .exited(let s): return s
        case .signaled(let n): return 128 + n
        }
    }

    var description: String {
        switch self {
        case .exited(let s): return "exited with status \(s)"
        case .signaled(let n):
            let name = strsignal(n).map { String(cString: $0) } ?? "signal \(n)"
            return "was killed by signal \(n) (\(name))"
        }
    }
}

/// What one run gave: how the program ended, and its processes' reports (unsymbolized; files in
/// the order they were last written, each file's reports in order).
struct Outcome {
    var termination: Termination
    var reports: [Report]
}

/// The pid the signal handlers pass SIGTERM/SIGHUP to; 0 when no program runs.
nonisolated(unsafe) private var runningChild: pid_t = 0

struct Runner {
    var library: String
    var format: LogFormat = .text

    /// Runs `command` with MirrorGuard and `options` (K=V pairs, applied after the user's
    /// MIRRORGUARD_OPTIONS); the reports come back unsymbolized.
    func run(_ command: [String], options: [String]) throws -> Outcome {
        guard let name = command.first else { throw Failure("no program to run") }
        guard let path = Locations.program(name), FileManager.default.fileExists(atPath: path) else {
            throw Failure("\(name): command not found", status: 127)
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure("\(path): not an executable file", status: 126)
        }

        let folder = try Self.privateFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = [library, env["LD_PRELOAD"] ?? ""].filter { !$0.isEmpty }.joined(separator: ":")
        let own = ["log_format=\(format.rawValue)", "log_path=\(folder)/report"]
        env["MIRRORGUARD_OPTIONS"] = ([env["MIRRORGUARD_OPTIONS"] ?? ""] + options + own)
            .filter { !$0.isEmpty }.joined(separator: ":")

        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = Array(command.dropFirst())
        p.environment = env
        // stdin, stdout and stderr are left unset: the child inherits the harness's own.

        Self.catchSignals()
        Self.unblockSignals()
        do { try p.run() } catch {
            throw Failure("cannot start \(path): \(error.localizedDescription)", status: 126)
        }
        runningChild = p.processIdentifier
        p.waitUntilExit()
        runningChild = 0
        Self.restoreSignals()

        let termination: Termination =
            p.terminationReason == .uncaughtSignal ? .signaled(p.terminationStatus) : .exited(p.terminationStatus)
        return Outcome(termination: termination, reports: Self.gather(folder))
    }

    /// Reads every `report.<pid>` in `folder`: files in the order they were last written, each
    /// file's reports in its own order.
    static func gather(_ folder: String) -> [Report] {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
        let files: [(date: Date, pid: Int, path: String)] = names.compactMap { name in
            guard name.hasPrefix("report."), let pid = Int(name.dropFirst("report.".count)) else { return nil }
            let path = "\(folder)/\(name)"
            let date = (try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            return (date, pid, path)
        }
        return files.sorted { ($0.date, $0.pid) < ($1.date, $1.pid) }.flatMap { file in
            Report.all(in: (try? String(contentsOfFile: file.path, encoding: .utf8)) ?? "", pid: file.pid)
        }
    }

    /// A new folder only this user can read (reports hold addresses).
    private static func privateFolder() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/mirrorguard.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw Failure(
                "cannot create a folder for reports in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// The program starts with no signal blocked, as from a login shell, even when the harness
    /// was started from a thread that blocks them (test runners and thread pools do), which the
    /// child would otherwise inherit: a `kill -TERM $$` would then be ignored.
    private static func unblockSignals() {
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
    }

    private static func restoreSignals() {
        for sig in [SIGINT, SIGQUIT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
    }

    private static func catchSignals() {
        let nothing: @convention(c) (Int32) -> Void = { _ in }
        let forward: @convention(c) (Int32) -> Void = { sig in
            if runningChild > 0 { kill(runningChild, sig) }
        }
        signal(SIGINT, nothing)
        signal(SIGQUIT, nothing)
        signal(SIGTERM, forward)
        signal(SIGHUP, forward)
    }
}
