// Summary.swift — folding identical reports and printing reports and the closing summary.
//
// A bug in a loop, in every child of a fork, or seen by both runs of --both-sides gives the
// same report many times. Two reports are the same bug when their fold keys match (kind,
// access, note and every frame's module+offset; see Report.foldKey), whatever their addresses,
// pids and threads. The first one is printed, with a line saying how many came and from which
// processes; the summary counts reports per kind and lists the distinct ones.
//
// Text goes to stderr; with --log-format json the reports go to stdout as JSON Lines, each
// with a "count" (and with --both-sides a "guard" side), and the summary still goes to stderr so
// stdout stays machine-readable.

struct FoldedReport {
    var report: Report
    var count: Int
    var pids: [Int]  // distinct, in order of appearance
    var sides: Set<Bool>  // protect_below values of the runs that saw it

    var sideDescription: String {
        switch (sides.contains(false), sides.contains(true)) {
        case (true, true): return "both"
        case (false, true): return "before"
        default: return "after"
        }
    }

    /// Folds `reports`, keeping the order in which each distinct report first came.
    static func fold(_ reports: [Report]) -> [FoldedReport] {
        var folded: [FoldedReport] = []
        var index: [String: Int] = [:]
        for r in reports {
            let key = r.foldKey
            if let i = index[key] {
                folded[i].count += 1
                if !folded[i].pids.contains(r.pid) { folded[i].pids.append(r.pid) }
                folded[i].sides.insert(r.protectBelow)
            } else {
                index[key] = folded.count
                folded.append(FoldedReport(report: r, count: 1, pids: [r.pid], sides: [r.protectBelow]))
            }
        }
        return folded
    }
}

struct ReportPrinter {
    var painter: Painter
    var bothSides = false

    /// Prints each distinct report once: text on stderr, JSON Lines on stdout.
    func print(_ folded: [FoldedReport]) {
        for f in folded {
            switch f.report.body {
            case .json(var value):
                value["count"] = .number(String(f.count))
                if bothSides { value["guard"] = .string(f.sideDescription) }
                Console.out(value.text)
            case .text(let lines):
                var out = lines.map(painter.line)
                if f.count > 1 {
                    let processes =
                        f.pids.count == 1
                        ? "process \(f.pids[0])" : "processes " + f.pids.map(String.init).joined(separator: ", ")
                    out.append(painter.blue("(the same report came \(f.count) times, from \(processes))"))
                }
                if bothSides {
                    let side = [
                        "after": "with guard pages after objects",
                        "before": "with guard pages before objects (protect_below=1)",
                        "both": "with guard pages after objects and before them",
                    ][f.sideDescription]!
                    out.append(painter.blue("(found \(side))"))
                }
                Console.error(out.joined(separator: "\n") + "\n")
            }
        }
    }

    /// The closing summary on stderr: counts per kind, each distinct report with its count and
    /// place, and why the harness exits as it does.
    func summary(_ folded: [FoldedReport], termination: Termination, exitStatus: Int32) {
        let total = folded.reduce(0) { $0 + $1.count }
        let processes = Set(folded.flatMap(\.pids)).count
        var lines = [
            painter.bold(
                "MirrorGuard: \(total) report\(total == 1 ? "" : "s") (\(folded.count) distinct) from "
                    + "\(processes) process\(processes == 1 ? "" : "es")")
        ]
        var kinds: [String] = []
        for f in folded where !kinds.contains(f.report.kind) { kinds.append(f.report.kind) }
        for kind in kinds {
            let group = folded.filter { $0.report.kind == kind }
            lines.append("  \(painter.red(kind)): \(group.reduce(0) { $0 + $1.count })")
            for f in group {
                let place = f.report.location.map { "  " + painter.green(Self.shortLocation($0)) } ?? ""
                lines.append("      \(f.count)× \(f.report.function)\(place)")
            }
        }
        lines.append(
            "The program \(termination.description); mirrorguard exits with \(exitStatus) because of the reports.")
        Console.error(lines.joined(separator: "\n"))
    }

    /// `heap_overflow.c:7` for `/long/path/heap_overflow.c:7`.
    static func shortLocation(_ location: String) -> String {
        location.split(separator: "/").last.map(String.init) ?? location
    }
}
