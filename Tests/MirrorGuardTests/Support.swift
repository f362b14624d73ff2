// Support.swift — what the tests share: the package's paths, building the preload library and
// the C fixtures once, running a child process and parsing its reports.
//
// Fixtures are tiny C programs in Tests/Fixtures, one bug each. They are compiled with the
// machine's cc into a scratch folder and run as children, because a bug fixture ends its
// process; a report is only as good as the KIND and the buggy frame it names, so tests assert
// both (see `Report`).
import Foundation
import Testing

enum Pkg {
    /// The package root, found from this file's path.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let scratch: URL = {
        let dir = root.appendingPathComponent(".build/fixtures")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// `.build/release/libmirrorguard.so`, built by tools/build once per test run.
    static let library: String = {
        let r = run(root.appendingPathComponent("tools/build").path, [])
        precondition(r.status == 0, "tools/build failed:\n\(r.stderr)")
        return root.appendingPathComponent(".build/release/libmirrorguard.so").path
    }()

    static var include: String { root.appendingPathComponent("Sources/CShim/include").path }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: String] = [:]  // guarded by lock

    /// Compiles Tests/Fixtures/NAME.c (or .cpp) and returns the binary's path. `linked` links it
    /// against libmirrorguard.so (for fixtures that call the mg_ API); others run under
    /// LD_PRELOAD. The result is cached per name and flags.
    static func fixture(_ name: String, linked: Bool = false, flags: [String] = []) -> String {
        let key = ([name, linked ? "L" : "P"] + flags).joined(separator: " ")
        lock.lock()
        defer { lock.unlock() }
        if let path = built[key] { return path }
        let fixtures = root.appendingPathComponent("Tests/Fixtures")
        let cpp = FileManager.default.fileExists(atPath: fixtures.appendingPathComponent("\(name).cpp").path)
        let source = fixtures.appendingPathComponent(cpp ? "\(name).cpp" : "\(name).c").path
        let out = scratch.appendingPathComponent(
            name + (flags.isEmpty ? "" : "-" + String(stableHash(flags.joined()) & 0xffffff, radix: 16))
                + (linked ? "-linked" : "")).path
        var args = ["-g", "-O0", "-fno-omit-frame-pointer", "-fno-inline", "-I", include, source, "-o", out, "-pthread"]
        args += flags
        if linked {
            let dir = URL(fileURLWithPath: library).deletingLastPathComponent().path
            args += ["-L", dir, "-lmirrorguard", "-Wl,-rpath,\(dir)"]
        }
        if !cpp { args += ["-ldl"] }
        let r = run("/usr/bin/env", [cpp ? "c++" : "cc"] + args)
        precondition(r.status == 0, "compiling \(name) failed:\n\(r.stderr)")
        built[key] = out
        return out
    }
}

/// FNV-1a: the same name for the same flags in every run (`hashValue` is seeded per process).
func stableHash(_ s: String) -> UInt64 {
    s.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}

struct ProcessResult {
    var status: Int32
    var signaled: Bool
    var stdout: String
    var stderr: String
}

/// How long one child may run. A child that hangs is killed with its whole process group
/// (Foundation starts each child as the leader of its own group), so a hang fails its test with
/// a message instead of stalling the run.
let childTimeLimit: Double = ProcessInfo.processInfo.environment["MG_TEST_CHILD_SECONDS"].flatMap(Double.init) ?? 240

/// Runs a program to completion with extra environment variables, capturing its output. One that
/// runs past `timeLimit` has its process group dumped (unless `dumpOnTimeout` is false) and killed.
@discardableResult
func run(_ path: String, _ args: [String], env: [String: String] = [:], stdin: String? = nil,
         timeLimit: Double = childTimeLimit, dumpOnTimeout: Bool = true) -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "MIRRORGUARD_OPTIONS")
    environment.removeValue(forKey: "LD_PRELOAD")
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    do { try p.run() } catch { return ProcessResult(status: -1, signaled: false, stdout: "", stderr: "\(error)") }
    let pid = p.processIdentifier
    // The killer, once it fires, dumps where the group hangs and kills it; the result is read
    // only after it is done (or once it can no longer start).
    let killing = NSCondition()
    nonisolated(unsafe) var phase = 0 // 0 waiting, 1 dumping and killing, 2 killed, 3 not needed
    nonisolated(unsafe) var hungAt = ""
    let killer = DispatchWorkItem {
        killing.lock()
        guard phase == 0 else { killing.unlock(); return }
        phase = 1
        killing.unlock()
        // Where it hangs, before it dies: each process's threads, kernel and user stacks.
        let dump = dumpOnTimeout
            ? run(Pkg.root.appendingPathComponent("tools/dump-group").path, ["\(pid)"], timeLimit: 300, dumpOnTimeout: false)
            : ProcessResult(status: 0, signaled: false, stdout: "", stderr: "")
        kill(-pid, SIGKILL) // the child's whole group: a harness run kills the program it started
        kill(pid, SIGKILL)  // and the child alone, should it ever not lead a group of its own
        killing.lock()
        hungAt = dump.stdout + dump.stderr
        phase = 2
        killing.broadcast()
        killing.unlock()
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeLimit, execute: killer)
    // Feed stdin and read both pipes at once, so a chatty child never blocks on a full pipe.
    let input = inp.fileHandleForWriting
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) {
        if let stdin { input.write(stdin.data(using: .utf8)!) }
        try? input.close()
    }
    nonisolated(unsafe) var errData = Data()
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    killing.lock()
    if phase == 0 { phase = 3 }
    while phase == 1 { killing.wait() }
    let timedOut = phase == 2
    killing.unlock()
    var stderr = String(decoding: errData, as: UTF8.self)
    if timedOut {
        let line = "\(path) \(args.joined(separator: " ")) did not finish in \(Int(timeLimit)) s; killed. Its process group then:\n\(hungAt)"
        Issue.record(Comment(rawValue: line))
        stderr += "\n" + line + "\n"
    }
    return ProcessResult(
        status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
        stdout: String(decoding: outData, as: UTF8.self), stderr: stderr)
}

/// Runs a fixture under the preload (or linked), with MIRRORGUARD_OPTIONS.
func runFixture(_ name: String, linked: Bool = false, options: String = "", args: [String] = [],
                flags: [String] = [], env: [String: String] = [:]) -> ProcessResult {
    let bin = Pkg.fixture(name, linked: linked, flags: flags)
    var e = env
    if !linked { e["LD_PRELOAD"] = Pkg.library }
    if !options.isEmpty { e["MIRRORGUARD_OPTIONS"] = options }
    return run(bin, args, env: e)
}

/// One text report, parsed from the contract's grammar.
struct Report {
    var kind: String
    var access: String
    var frames: [String]        // function names of the error stack
    var location: String?       // "N bytes after a SIZE-byte region" line
    var allocatedBy: [String]
    var freedBy: [String]
    var summary: String
    var text: String

    /// Every report in `text`, in order.
    static func all(in text: String) -> [Report] {
        var reports: [Report] = []
        var current: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.contains("==ERROR: MirrorGuard: ") { current = [line] }
            else if !current.isEmpty { current.append(line) }
            if line.contains("==SUMMARY: MirrorGuard: "), !current.isEmpty {
                reports.append(Report(lines: current))
                current = []
            }
        }
        return reports
    }

    init(lines: [Substring]) {
        let head = String(lines[0])
        kind = head.components(separatedBy: "MirrorGuard: ")[1].components(separatedBy: " ")[0]
        access = head.components(separatedBy: "(").last?.components(separatedBy: ",").first ?? ""
        var section = 0
        var f: [String] = [], a: [String] = [], fr: [String] = []
        location = nil
        summary = String(lines.last!.components(separatedBy: " in ").last ?? "")
        for line in lines.dropFirst() {
            if line.hasPrefix("allocated by") { section = 1; continue }
            if line.hasPrefix("freed by") { section = 2; continue }
            if line.contains(" is located ") { location = String(line) }
            guard line.hasPrefix("    #"), let inRange = line.range(of: " in ") else { continue }
            let rest = line[inRange.upperBound...]
            let name = String(rest.split(separator: " ")[0].split(separator: "+")[0])
            switch section {
            case 0: f.append(name)
            case 1: a.append(name)
            default: fr.append(name)
            }
        }
        frames = f
        allocatedBy = a
        freedBy = fr
        text = lines.joined(separator: "\n")
    }
}

/// Does a frame's symbol name `function`? In-process reports carry symbols as the symbol table
/// has them, so C++ (`_ZL12read_deletedPK6Widget`) and Swift (`$s...`) names are mangled; the
/// harness demangles them.
func names(_ symbol: String, _ function: String) -> Bool {
    if symbol == function { return true }
    guard symbol.hasPrefix("_Z") || symbol.hasPrefix("$s") else { return false }
    return symbol.contains("\(function.count)\(function)")
}

/// Asserts that `result` holds exactly one report of `kind` whose error stack names `function`
/// (in one of its first frames) and whose process ended with MirrorGuard's exit code.
@discardableResult
func expectReport(_ result: ProcessResult, kind: String, in function: String, allocatedIn: String? = nil,
                  freedIn: String? = nil, status: Int32 = 23,
                  sourceLocation: SourceLocation = #_sourceLocation) -> Report? {
    let reports = Report.all(in: result.stderr)
    #expect(reports.count == 1, "expected one report, got \(reports.count):\n\(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.status == status, "exit status \(result.status)\n\(result.stderr)", sourceLocation: sourceLocation)
    guard let r = reports.first else { return nil }
    #expect(r.kind == kind, "kind \(r.kind)\n\(r.text)", sourceLocation: sourceLocation)
    #expect(r.frames.prefix(4).contains { names($0, function) }, "no frame \(function):\n\(r.text)", sourceLocation: sourceLocation)
    if let allocatedIn {
        #expect(r.allocatedBy.prefix(4).contains { names($0, allocatedIn) }, "allocation stack lacks \(allocatedIn):\n\(r.text)", sourceLocation: sourceLocation)
    }
    if let freedIn {
        #expect(r.freedBy.prefix(4).contains { names($0, freedIn) }, "free stack lacks \(freedIn):\n\(r.text)", sourceLocation: sourceLocation)
    }
    return r
}
