// Run.swift — `mirrorguard run [options] -- PROGRAM [ARGS...]`.
//
// Preloads libmirrorguard.so (keeping any LD_PRELOAD already set), merges `--options` into
// MIRRORGUARD_OPTIONS after what the user already set, runs the program and exits with its
// status: the program's own, or 128+N when a signal N ended it, as a shell does.
import ArgumentParser
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program with MirrorGuard preloaded.",
        discussion: "Example: mirrorguard run --options alignment=1 -- ./prog arg1")

    @Option(name: .long, help: "MirrorGuard options, K=V pairs separated by ':' (see `mirrorguard options`).")
    var options: String?

    @Argument(parsing: .postTerminator, help: "The program and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("Give the program to run after --, e.g. mirrorguard run -- ./prog") }
    }

    func run() throws {
        let library = try Library.locate()
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = [library, env["LD_PRELOAD"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        if let options, !options.isEmpty {
            env["MIRRORGUARD_OPTIONS"] = [env["MIRRORGUARD_OPTIONS"], options].compactMap { $0 }
                .filter { !$0.isEmpty }.joined(separator: ":")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Library.resolve(command[0]))
        p.arguments = Array(command.dropFirst())
        p.environment = env
        do { try p.run() } catch {
            throw ValidationError("cannot start \(command[0]): \(error.localizedDescription)")
        }
        p.waitUntilExit()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        throw ExitCode(status)
    }
}

/// Where the preload library and programs are.
enum Library {
    /// libmirrorguard.so next to this executable (the build folder), else in .build/release of
    /// the current directory.
    static func locate() throws -> String {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let self_ = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map(URL.init(fileURLWithPath:)) ?? exe
        for dir in [self_.deletingLastPathComponent(), self_.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("release")] {
            let candidate = dir.appendingPathComponent("libmirrorguard.so").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw ValidationError("libmirrorguard.so not found next to \(self_.path); run tools/build")
    }

    /// A command name as a shell would find it: a path as given, else searched in PATH.
    static func resolve(_ name: String) throws -> String {
        if name.contains("/") { return name }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ValidationError("\(name): command not found")
    }
}
