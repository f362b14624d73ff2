// Options.swift — `mirrorguard options`: every MIRRORGUARD_OPTIONS key, its default and meaning,
// read from the C core's table (mg_option_at), so the harness can never list a stale option.
import ArgumentParser
import CShim

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every MIRRORGUARD_OPTIONS key with its default and meaning.")

    func run() throws {
        var lines = ["MIRRORGUARD_OPTIONS=key=value:key=value (',' also separates pairs)", ""]
        for i in 0..<mg_option_count() {
            guard let o = mg_option_at(i)?.pointee else { continue }
            let name = String(cString: o.name), def = String(cString: o.default_value)
            lines.append("  \(name)=\(def)  [\(String(cString: o.values))]")
            lines.append("      \(String(cString: o.help))")
        }
        print(lines.joined(separator: "\n"))
    }
}
