// ReadmeTests.swift — the README teaches the contract: its option table must list exactly the
// options of the library's own table (options.def), with the same defaults and values.
import CShim
import Foundation
import Testing

@Suite("README")
struct ReadmeTests {
    @Test("the README's option table matches the library's")
    func optionTable() throws {
        let readme = try String(contentsOf: Pkg.root.appendingPathComponent("README.md"), encoding: .utf8)
        var rows: [String: (String, String)] = [:]
        for line in readme.split(separator: "\n") where line.hasPrefix("| `") {
            // Cells are split on '|', but not on the escaped '\|' inside a cell.
            let cells = line.replacingOccurrences(of: "\\|", with: "\u{1}")
                .split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\u{1}", with: "|") }
            guard cells.count >= 5 else { continue }
            let strip = { (s: String) in s.replacingOccurrences(of: "`", with: "") }
            rows[strip(cells[1])] = (strip(cells[2]), strip(cells[3]))
        }
        var names: [String] = []
        for i in 0..<mg_option_count() {
            let o = try #require(mg_option_at(i)?.pointee)
            let name = String(cString: o.name)
            names.append(name)
            let row = try #require(rows[name], "README lacks option \(name)")
            #expect(row.0 == String(cString: o.default_value), "default of \(name)")
            #expect(row.1 == String(cString: o.values), "values of \(name)")
        }
        #expect(names.count == Int(mg_option_count()))
    }
}
