// Subprocess.swift — running a helper tool (llvm-symbolizer, addr2line, swift-demangle, cc,
// dpkg-query) to completion and keeping what it printed.
//
// Helpers get the harness's own environment, never the program's: no LD_PRELOAD, so the
// symbolizer does not run under MirrorGuard (doctor's probe adds it back on purpose). Input
// goes through a temporary file rather than a pipe, so a large batch can never deadlock
// against a tool that writes while it reads.
import Foundation

struct Captured {
    var status: Int32
    var stdout: String
    var stderr: String
    var ok: Bool { status == 0 }
}

enum Subprocess {
    /// Runs `path args` with `input` on stdin and `environment` added to the harness's own;
    /// nil if it could not be started.
    static func capture(
        _ path: String, _ args: [String], input: String? = nil, environment: [String: String] = [:]
    ) -> Captured? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "LD_PRELOAD")
        env.removeValue(forKey: "MIRRORGUARD_OPTIONS")
        env.merge(environment) { $1 }
        p.environment = env

        var inputFile: URL?
        if let input {
            let url = FileManager.default.temporaryDirectory
                .appendingPathComponent("mirrorguard-input-\(getpid())-\(UUID().uuidString)")
            guard (try? Data(input.utf8).write(to: url)) != nil,
                let handle = try? FileHandle(forReadingFrom: url)
            else { return nil }
            p.standardInput = handle
            inputFile = url
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }

        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return nil }
        // Drain stderr on another thread so neither pipe can fill up and stall the tool.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Captured(
            status: p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }
}
