// Console.swift — how the harness writes: reports and summaries to stderr (where a program's own
// diagnostics go, as ASan does), JSON Lines to stdout, with colour only on a terminal.
//
// Colour marks the parts of a report the eye looks for: the ERROR line, the file:line of each
// frame, the "allocated by" / "freed by" headers and the SUMMARY line. It is applied while
// printing, never stored, so what the harness parses and folds is always the plain text.
import ArgumentParser
import Foundation
import Glibc

enum ColorChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, on, off

    /// `auto`: colour when `fd` (stderr unless told) is a terminal, TERM is not "dumb" and
    /// NO_COLOR is unset.
    func enabled(on fd: Int32 = STDERR_FILENO) -> Bool {
        switch self {
        case .on: return true
        case .off: return false
        case .auto:
            let env = ProcessInfo.processInfo.environment
            return isatty(fd) == 1 && env["TERM"] != "dumb" && env["NO_COLOR"] == nil
        }
    }
}

enum Console {
    /// Writes `text` and a newline to stderr, unbuffered.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Writes `text` and a newline to stdout, flushing what print() buffered first so the two
    /// never reorder.
    static func out(_ text: String) {
        fflush(nil)
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

/// ANSI colouring of report lines.
struct Painter {
    var enabled: Bool

    private func paint(_ s: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    func bold(_ s: String) -> String { paint(s, "1") }
    func red(_ s: String) -> String { paint(s, "1;31") }
    func green(_ s: String) -> String { paint(s, "32") }
    func blue(_ s: String) -> String { paint(s, "34") }
    func magenta(_ s: String) -> String { paint(s, "35") }

    /// One line of a text report, coloured by what it is.
    func line(_ line: String) -> String {
        guard enabled else { return line }
        if line.contains("==ERROR: MirrorGuard: ") { return red(line) }
        if line.contains("==SUMMARY: MirrorGuard: ") { return bold(line) }
        if line.hasPrefix("allocated by thread") || line.hasPrefix("freed by thread") { return magenta(line) }
        if let frame = FrameLine(line) { return frame.rendered(paint: green) }
        return line
    }
}
