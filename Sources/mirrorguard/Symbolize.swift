// Symbolize.swift — `mirrorguard symbolize`: adds function names and file:line to MirrorGuard
// reports read on stdin (or from files), text or JSON Lines, and writes everything back.
//
// For reports that were not gathered by `run`: a log_path file, a CI log, a bug tracker paste.
// Frame lines and JSON report lines are rewritten (see Reports.swift); every other line is left
// exactly as it was, so a whole program log can be piped through. Symbolizing twice gives the
// same text, because the module and module offset stay in every frame. The modules must still be
// the files that ran (same path, same build).
import ArgumentParser
import Foundation
import Glibc

struct Symbolize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add file:line to MirrorGuard reports read on stdin (text or JSON Lines).",
        discussion: """
            Reads reports (and any other text around them), names every frame with \
            llvm-symbolizer (or addr2line) and swift-demangle, and writes the input back with \
            FILE:LINE in each frame (text) or "file"/"line"/"column" in each frame (JSON). \
            Lines that are not part of a report pass through unchanged.

            Examples:
              MIRRORGUARD_OPTIONS=log_path=/tmp/mg ./prog; cat /tmp/mg.* | mirrorguard symbolize
              mirrorguard symbolize /tmp/mg.1234 /tmp/mg.1240
            """)

    @Argument(help: "Files to read instead of stdin.")
    var files: [String] = []

    @Option(name: .long, help: "Colour text reports: auto (when stdout is a terminal), on or off.")
    var color: ColorChoice = .auto

    func validate() throws {
        for file in files where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
    }

    func run() throws {
        var input = ""
        if files.isEmpty {
            input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            for file in files {
                input += String(decoding: FileManager.default.contents(atPath: file) ?? Data(), as: UTF8.self)
            }
        }
        let lines = input.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let json = lines.map(JSONReports.parse)

        var queries = Set(TextReports.queries(lines))
        var names = Set(TextReports.rawNames(lines))
        for report in json.compactMap({ $0 }) {
            queries.formUnion(JSONReports.queries(report))
            names.formUnion(JSONReports.rawNames(report))
        }
        let table = Symbolizer.detect().table(for: queries, rawNames: names)

        let painter = Painter(enabled: color.enabled(on: STDOUT_FILENO))
        var out = TextReports.symbolize(lines, table).map(painter.line)
        for (i, report) in json.enumerated() {
            if let report { out[i] = JSONReports.symbolize(report, table).text }
        }
        FileHandle.standardOutput.write(Data(out.joined(separator: "\n").utf8))
    }
}
