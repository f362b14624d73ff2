// Reports.swift — MirrorGuard's reports as the harness reads and rewrites them (CONTRACT §3).
//
// A report comes either as text (an `==PID==ERROR:` line, stacks, an `==PID==SUMMARY:` line) or
// as one JSON object per line. The harness never re-formats a report from its facts — the C core
// owns the format — it only rewrites the frames in place:
//   text   `    #0 0xPC in overflow_write+0x17 (/path/prog+0x1190)`
//     →    `    #0 0xPC in overflow_write /src/heap_overflow.c:7 (/path/prog+0x1190)`
//          (function demangled; `+0xOFF` gives way to FILE:LINE when the line is known, and stays
//          otherwise), and the SUMMARY's function is demangled like frame #0's;
//   JSON   each frame gains "file", "line" and "column" (null when unknown), "function" is the
//          symbolizer's demangled name, and "summary" follows frame #0.
// Module and module offset are kept, so a symbolized report can be symbolized again.
//
// `Report` is one gathered report with the facts the harness needs to count and fold them:
// kind, pid, the function it names, and a fold key made of what identifies a bug rather than a
// run (kind, access, note, and the module+offset of every frame; not addresses, pids, threads).

/// One frame line of a text report: `    #N 0xPC in FUNCTION[+0xOFF | FILE:LINE] (MODULE+0xOFF)`,
/// or `(<unknown module>)`.
struct FrameLine: Equatable {
    var indent: String
    var index: Int
    var pc: String
    var function: String
    var functionOffset: String?  // "0x17", without the '+'
    var location: String?  // "FILE:LINE" once symbolized
    var module: String?
    var moduleOffset: UInt64?

    init?(_ line: String) {
        guard let hash = line.firstIndex(of: "#"), line[..<hash].allSatisfy({ $0 == " " }),
            line.hasSuffix(")"), let inRange = line.range(of: " in ")
        else { return nil }
        let head = line[line.index(after: hash)..<inRange.lowerBound].split(separator: " ")
        guard head.count == 2, let index = Int(head[0]), head[1].hasPrefix("0x") else { return nil }
        indent = String(line[..<hash])
        self.index = index
        pc = String(head[1])

        // The module part is the last " (" group: an absolute path, or <unknown module>.
        let rest = line[inRange.upperBound...]
        let body: Substring
        if let open = rest.range(of: " (<unknown module>)", options: .backwards), open.upperBound == rest.endIndex {
            body = rest[..<open.lowerBound]
        } else if let open = rest.range(of: " (/", options: .backwards) {
            let inner = rest[rest.index(open.lowerBound, offsetBy: 2)..<rest.index(before: rest.endIndex)]
            guard let plus = inner.range(of: "+0x", options: .backwards),
                let offset = UInt64(inner[plus.upperBound...], radix: 16)
            else { return nil }
            module = String(inner[..<plus.lowerBound])
            moduleOffset = offset
            body = rest[..<open.lowerBound]
        } else {
            return nil
        }

        // FUNCTION, then either " FILE:LINE" (symbolized) or "+0xOFF".
        var name = String(body)
        if let space = name.lastIndex(of: " "), FrameLine.isLocation(name[name.index(after: space)...]) {
            location = String(name[name.index(after: space)...])
            name = String(name[..<space])
        }
        if let plus = name.range(of: "+0x", options: .backwards),
            name[plus.upperBound...].allSatisfy(\.isHexDigit), plus.upperBound != name.endIndex
        {
            functionOffset = String(name[name.index(after: plus.lowerBound)...])
            name = String(name[..<plus.lowerBound])
        }
        function = name
    }

    /// "FILE:LINE" or "FILE:LINE:COLUMN".
    private static func isLocation(_ s: Substring) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty else { return false }
        let numbers = parts.count >= 3 && Int(parts[parts.count - 2]) != nil ? parts.suffix(2) : parts.suffix(1)
        return numbers.allSatisfy { Int($0) != nil }
    }

    var query: SymbolQuery? {
        guard let module, let moduleOffset else { return nil }
        return SymbolQuery(module: module, moduleOffset: moduleOffset, frameIndex: index)
    }

    /// The line again; `paint` colours the location.
    func rendered(paint: (String) -> String = { $0 }) -> String {
        var s = "\(indent)#\(index) \(pc) in \(function)"
        if let location { s += " " + paint(location) } else if let functionOffset { s += "+" + functionOffset }
        if let module, let moduleOffset {
            s += " (\(module)+0x\(String(moduleOffset, radix: 16)))"
        } else {
            s += " (<unknown module>)"
        }
        return s
    }

    /// This frame with the table's answer.
    func symbolized(_ table: SymbolTable) -> FrameLine {
        var f = self
        let q = query
        if let name = table.function(q, raw: function == "??" ? nil : function) { f.function = name }
        if let location = table.source(q)?.location {
            f.location = location
            f.functionOffset = nil
        }
        return f
    }
}

/// Text reports: frames rewritten line by line; other lines pass through unchanged.
enum TextReports {
    static func isHead(_ line: String) -> Bool { line.contains("==ERROR: MirrorGuard: ") }
    static func isSummary(_ line: String) -> Bool { line.contains("==SUMMARY: MirrorGuard: ") }

    static func queries(_ lines: [String]) -> [SymbolQuery] { lines.compactMap { FrameLine($0)?.query } }
    static func rawNames(_ lines: [String]) -> [String] { lines.compactMap { FrameLine($0)?.function } }

    /// The lines with every frame symbolized, and each SUMMARY naming frame #0's new name.
    static func symbolize(_ lines: [String], _ table: SymbolTable) -> [String] {
        var firstFrame: (old: String, new: String)?
        var inErrorStack = false
        return lines.map { line in
            if isHead(line) {
                firstFrame = nil
                inErrorStack = true
                return line
            }
            if var frame = FrameLine(line) {
                let old = frame.function
                frame = frame.symbolized(table)
                if inErrorStack, frame.index == 0, firstFrame == nil { firstFrame = (old, frame.function) }
                return frame.rendered()
            }
            if !line.hasPrefix(" ") { inErrorStack = false }
            if isSummary(line), let (old, new) = firstFrame, old != new, line.hasSuffix(" in " + old) {
                return String(line.dropLast(old.count)) + new
            }
            return line
        }
    }
}

/// JSON reports: frames gain file/line; everything else stays as the library wrote it.
enum JSONReports {
    /// A line that is one of MirrorGuard's JSON reports.
    static func parse(_ line: String) -> JSONValue? {
        guard line.hasPrefix("{"), let value = JSONValue(parsing: line), value["tool"]?.string == "MirrorGuard"
        else { return nil }
        return value
    }

    /// The frame arrays of a report: the error stack, then allocation and free stacks.
    private static let stackPaths: [[String]] = [["frames"], ["allocated_by", "frames"], ["freed_by", "frames"]]

    private static func frames(_ report: JSONValue) -> [[JSONValue]] {
        stackPaths.map { path in
            var v: JSONValue? = report
            for key in path { v = v?[key] }
            return v?.array ?? []
        }
    }

    private static func query(_ frame: JSONValue, index: Int) -> SymbolQuery? {
        guard let module = frame["module"]?.string, let text = frame["module_offset"]?.string,
            let offset = UInt64(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16)
        else { return nil }
        return SymbolQuery(module: module, moduleOffset: offset, frameIndex: index)
    }

    static func queries(_ report: JSONValue) -> [SymbolQuery] {
        frames(report).flatMap { stack in stack.enumerated().compactMap { query($1, index: $0) } }
    }

    static func rawNames(_ report: JSONValue) -> [String] {
        frames(report).flatMap { $0.compactMap { $0["function"]?.string } }
    }

    static func symbolize(_ report: JSONValue, _ table: SymbolTable) -> JSONValue {
        var out = report
        let firstOld = frames(report).first?.first?["function"]?.string
        for path in stackPaths {
            var holder: JSONValue? = out
            for key in path.dropLast() { holder = holder?[key] }
            guard var container = holder, let stack = container[path.last!]?.array else { continue }
            container[path.last!] = .array(
                stack.enumerated().map { index, frame in
                    var f = frame
                    let q = query(frame, index: index)
                    let source = table.source(q)
                    if let name = table.function(q, raw: frame["function"]?.string) { f["function"] = .string(name) }
                    f["file"] = source?.file.map(JSONValue.string) ?? .null
                    f["line"] = source?.line.map { .number(String($0)) } ?? .null
                    f["column"] = source?.column.map { .number(String($0)) } ?? .null
                    return f
                })
            if path.count == 1 { out = container } else { out[path[0]] = container }
        }
        if let firstOld, out["summary"]?.string == firstOld,
            let firstNew = frames(out).first?.first?["function"]?.string
        {
            out["summary"] = .string(firstNew)
        }
        return out
    }

    /// What identifies the bug: kind, access, note and every frame's module+offset.
    static func foldKey(_ report: JSONValue) -> String {
        var parts = [report["kind"]?.string ?? "", report["access"]?.string ?? "", report["note"]?.string ?? ""]
        for stack in frames(report) {
            parts.append("|")
            parts += stack.map { "\($0["module"]?.string ?? "?")+\($0["module_offset"]?.string ?? "?")" }
        }
        return parts.joined(separator: " ")
    }
}

/// One gathered report, in the format the library wrote it.
struct Report {
    enum Body {
        case text([String])
        case json(JSONValue)
    }

    var body: Body
    var pid: Int
    /// Which run found it with --both-sides: false = guard after objects, true = before.
    var protectBelow = false

    var kind: String {
        switch body {
        case .text(let lines):
            return lines.first.flatMap { $0.components(separatedBy: "MirrorGuard: ").dropFirst().first }?
                .split(separator: " ").first.map(String.init) ?? "unknown"
        case .json(let v): return v["kind"]?.string ?? "unknown"
        }
    }

    /// The function the SUMMARY names.
    var function: String {
        switch body {
        case .text(let lines):
            guard let summary = lines.last(where: TextReports.isSummary),
                let range = summary.range(of: " in ")
            else { return "??" }
            return String(summary[range.upperBound...])
        case .json(let v): return v["summary"]?.string ?? "??"
        }
    }

    /// FILE:LINE of the first frame of the error stack, when symbolized.
    var location: String? {
        switch body {
        case .text(let lines): return lines.lazy.compactMap(FrameLine.init).first?.location
        case .json(let v):
            guard let f = v["frames"]?.array?.first, let file = f["file"]?.string, let line = f["line"]?.int else {
                return nil
            }
            return "\(file):\(line)"
        }
    }

    var queries: [SymbolQuery] {
        switch body {
        case .text(let lines): return TextReports.queries(lines)
        case .json(let v): return JSONReports.queries(v)
        }
    }

    var rawNames: [String] {
        switch body {
        case .text(let lines): return TextReports.rawNames(lines)
        case .json(let v): return JSONReports.rawNames(v)
        }
    }

    func symbolized(_ table: SymbolTable) -> Report {
        var r = self
        switch body {
        case .text(let lines): r.body = .text(TextReports.symbolize(lines, table))
        case .json(let v): r.body = .json(JSONReports.symbolize(v, table))
        }
        return r
    }

    var foldKey: String {
        switch body {
        case .json(let v): return JSONReports.foldKey(v)
        case .text(let lines):
            var parts = [
                kind,
                lines.first.flatMap { $0.components(separatedBy: "(").last?.components(separatedBy: ",").first } ?? "",
            ]
            for line in lines.dropFirst() {
                if let frame = FrameLine(line) {
                    parts.append("\(frame.module ?? "?")+\(frame.moduleOffset.map { String($0, radix: 16) } ?? "?")")
                } else if line.hasSuffix(" here:"), let by = line.range(of: " by thread ") {
                    parts.append(String(line[..<by.lowerBound]))  // "allocated" / "freed", not the thread id
                } else if !TextReports.isSummary(line), !line.contains(" is located ") {
                    parts.append(line)  // notes, e.g. "direct leak: 120 bytes in 3 objects, ..."
                }
            }
            return parts.joined(separator: " ")
        }
    }

    /// Every report in a log file's text: text blocks from ERROR to SUMMARY, and JSON lines.
    static func all(in text: String, pid: Int) -> [Report] {
        var reports: [Report] = []
        var block: [String]?
        for sub in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(sub)
            if let json = JSONReports.parse(line) {
                reports.append(Report(body: .json(json), pid: json["pid"]?.int ?? pid))
                continue
            }
            if TextReports.isHead(line) { block = [line] } else { block?.append(line) }
            if TextReports.isSummary(line), let lines = block {
                reports.append(Report(body: .text(lines), pid: Report.pid(of: lines[0]) ?? pid))
                block = nil
            }
        }
        // A report cut short (the process was killed while writing) is kept as it is.
        if let lines = block, !lines.isEmpty {
            reports.append(Report(body: .text(lines.filter { !$0.isEmpty }), pid: Report.pid(of: lines[0]) ?? pid))
        }
        return reports
    }

    /// The PID in `==PID==ERROR: ...`.
    static func pid(of head: String) -> Int? {
        guard head.hasPrefix("==") else { return nil }
        return Int(head.dropFirst(2).prefix { $0.isNumber })
    }
}
