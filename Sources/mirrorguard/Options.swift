// Options.swift — `mirrorguard options`: every MIRRORGUARD_OPTIONS key, its default and meaning,
// read from the C core's table (mg_option_at), so the harness can never list a stale option.
// `OptionTable` is the same table for the harness's own checks (`run --options` names only keys
// the library knows).
import ArgumentParser
import CShim

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every MIRRORGUARD_OPTIONS key with its default and meaning.",
        discussion: """
            The list comes from the library's own option table (Sources/CShim/options.def), the \
            one its parser uses, so it is always the list of this build. Set options in the \
            environment (MIRRORGUARD_OPTIONS=alignment=1:fill=170 ./prog) or with \
            `mirrorguard run --options alignment=1:fill=170 -- ./prog`.
            """)

    func run() throws {
        var lines = ["MIRRORGUARD_OPTIONS=key=value:key=value (',' also separates pairs)", ""]
        for o in OptionTable.all {
            lines.append("  \(o.name)=\(o.defaultValue)  [\(o.values)]")
            lines.append("      \(o.help)")
        }
        print(lines.joined(separator: "\n"))
    }
}

/// The library's option table, as Swift values.
enum OptionTable {
    struct Entry {
        var name, defaultValue, values, help: String
    }

    static var all: [Entry] {
        (0..<mg_option_count()).compactMap { i in
            guard let o = mg_option_at(i)?.pointee else { return nil }
            return Entry(
                name: String(cString: o.name), defaultValue: String(cString: o.default_value),
                values: String(cString: o.values), help: String(cString: o.help))
        }
    }

    /// Splits `K=V:K=V` (or ',') into pairs, checking each key against the table.
    static func pairs(_ text: String) throws -> [String] {
        let known = Set(all.map(\.name))
        return try text.split(whereSeparator: { $0 == ":" || $0 == "," }).map { pair in
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("'\(pair)' in --options is not KEY=VALUE")
            }
            let key = String(pair[..<eq])
            guard known.contains(key) else {
                throw ValidationError("unknown option '\(key)' in --options (see `mirrorguard options`)")
            }
            return String(pair)
        }
    }
}
