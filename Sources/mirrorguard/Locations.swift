// Locations.swift — where the harness finds what it needs: the preload library, the package
// (for the public header the demo compiles against), programs in PATH, and the tools it borrows
// (llvm-symbolizer, addr2line, swift-demangle, cc).
//
// The harness is one file in a build folder, so everything is found relative to the running
// executable (/proc/self/exe, which sees through SwiftPM's `.build/release` symlink):
//   libmirrorguard.so   $MIRRORGUARD_LIBRARY, else next to the executable (`.build/release`),
//                       else `<exe dir>/../release` (a debug harness using the release library),
//                       else `<package>/.build/release`.
//   the package         the nearest folder above the executable holding Sources/CShim/include.
import ArgumentParser
import Foundation

enum Locations {
    /// The running harness, with symbolic links resolved.
    static var executable: URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    }

    /// The preload library, or a failure that says how to build it.
    static func library() throws -> String {
        let fm = FileManager.default
        if let forced = ProcessInfo.processInfo.environment["MIRRORGUARD_LIBRARY"], !forced.isEmpty {
            guard fm.fileExists(atPath: forced) else {
                throw Failure("MIRRORGUARD_LIBRARY=\(forced): no such file")
            }
            return URL(fileURLWithPath: forced).standardizedFileURL.path
        }
        let dir = executable.deletingLastPathComponent()
        var candidates = [dir, dir.deletingLastPathComponent().appendingPathComponent("release")]
        if let root = packageRoot() { candidates.append(root.appendingPathComponent(".build/release")) }
        for folder in candidates {
            let path = folder.appendingPathComponent("libmirrorguard.so").standardizedFileURL.path
            if fm.fileExists(atPath: path) { return path }
        }
        throw Failure(
            "libmirrorguard.so not found next to \(executable.path) (nor in ../release); "
                + "run tools/build, or set MIRRORGUARD_LIBRARY to its path")
    }

    /// The package root: the nearest folder above the executable with the public C header.
    static func packageRoot() -> URL? {
        var dir = executable.deletingLastPathComponent()
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(headerPath).path) {
                return dir
            }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    static let headerPath = "Sources/CShim/include/mirrorguard.h"

    /// A command name as a shell finds it: a path as given, else the first match in PATH.
    static func program(_ name: String) -> String? {
        if name.contains("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The first of `names` found in PATH, then in the Swift toolchain's own bin folder (the
    /// toolchain ships a recent llvm-symbolizer and swift-demangle next to `swift`).
    static func tool(_ names: [String]) -> String? {
        for name in names {
            if let found = program(name) { return found }
        }
        var toolchainBins = ["/opt/swift/usr/bin", "/usr/share/swift/usr/bin"]
        if let swift = program("swift") {
            let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath()
            toolchainBins.insert(real.deletingLastPathComponent().path, at: 0)
        }
        for dir in toolchainBins {
            for name in names where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }
}

/// A run-time failure (not a usage error): printed as `mirrorguard: MESSAGE`, exit status 1
/// unless given.
struct Failure: Error, CustomStringConvertible {
    var message: String
    var status: Int32
    init(_ message: String, status: Int32 = 1) {
        self.message = message
        self.status = status
    }
    var description: String { message }
}

extension Failure {
    /// Prints the message and turns it into the exit status, so every subcommand ends the same way.
    static func report(_ body: () throws -> Void) throws {
        do { try body() } catch let failure as Failure {
            Console.error("mirrorguard: \(failure.message)")
            throw ExitCode(failure.status)
        }
    }
}
