// Symbolizer.swift — turning (module, address) pairs into function, file and line.
//
// The library names frames from symbol tables only (it runs in a signal handler and cannot read
// DWARF), and prints each frame's module and the address inside it. The harness collects every
// such pair of a run, asks one symbolizer process for all of them at once and keeps the answers
// in a `SymbolTable`:
//   llvm-symbolizer   preferred: one process per batch, reading `"MODULE" 0xADDR` lines on stdin
//                     and answering one JSON object per line (--output-style=JSON); it demangles
//                     C++ itself.
//   addr2line         the fallback: one `addr2line -f -C -e MODULE ADDR...` per module.
// Swift symbols ($s...) are demangled afterwards with `swift-demangle --simplified`, and C++
// names the symbolizer never saw (a module that is gone) with c++filt, also in one batch each.
import Foundation

/// One address to name: the module's file and the address inside it that a symbolizer expects.
/// For a return address (every frame but #0) that is module_offset - 1, inside the call.
struct SymbolQuery: Hashable, Sendable {
    var module: String
    var address: UInt64

    init(module: String, moduleOffset: UInt64, frameIndex: Int) {
        self.module = module
        self.address = frameIndex > 0 && moduleOffset > 0 ? moduleOffset - 1 : moduleOffset
    }
}

/// What a symbolizer knew about one address.
struct SourceInfo: Equatable, Sendable {
    var function: String?
    var file: String?
    var line: Int?
    var column: Int?

    /// `FILE:LINE`, when both are known.
    var location: String? {
        guard let file, let line, line > 0 else { return nil }
        return "\(file):\(line)"
    }
}

/// The answers for one batch: source information per address, demangled names per symbol.
struct SymbolTable: Sendable {
    var sources: [SymbolQuery: SourceInfo] = [:]
    var demangled: [String: String] = [:]

    func source(_ query: SymbolQuery?) -> SourceInfo? { query.flatMap { sources[$0] } }

    /// The best name for a frame: the symbolizer's (demangled), else the report's own, demangled.
    func function(_ query: SymbolQuery?, raw: String?) -> String? {
        let name = source(query)?.function ?? raw
        return name.map { demangled[$0] ?? $0 }
    }
}

struct Symbolizer: Sendable {
    enum Backend: Sendable, Equatable {
        case llvm(String)
        case addr2line(String)
        case none
    }

    var backend: Backend
    var swiftDemangle: String?
    var cxxfilt: String?

    /// The tools this machine offers, best first.
    static func detect() -> Symbolizer {
        let backend: Backend
        if let path = Locations.tool(["llvm-symbolizer"]) {
            backend = .llvm(path)
        } else if let path = Locations.tool(["addr2line"]) {
            backend = .addr2line(path)
        } else {
            backend = .none
        }
        return Symbolizer(
            backend: backend, swiftDemangle: Locations.tool(["swift-demangle"]),
            cxxfilt: Locations.tool(["c++filt", "llvm-cxxfilt"]))
    }

    /// Names every query, and demangles every name (the answers' and `rawNames`, the names the
    /// reports carry for frames the symbolizer cannot answer).
    func table(for queries: Set<SymbolQuery>, rawNames: Set<String>) -> SymbolTable {
        var table = SymbolTable()
        let ordered = queries.sorted { ($0.module, $0.address) < ($1.module, $1.address) }
        switch backend {
        case .llvm(let path): table.sources = Self.llvm(path, ordered)
        case .addr2line(let path): table.sources = Self.addr2line(path, ordered)
        case .none: break
        }
        let names = rawNames.union(table.sources.values.compactMap(\.function))
        table.demangled = demangle(names)
        return table
    }

    // MARK: llvm-symbolizer

    private static func llvm(_ path: String, _ queries: [SymbolQuery]) -> [SymbolQuery: SourceInfo] {
        guard !queries.isEmpty else { return [:] }
        let input = queries.map { "\"\($0.module)\" 0x\(String($0.address, radix: 16))" }.joined(separator: "\n") + "\n"
        guard let r = Subprocess.capture(path, ["--output-style=JSON", "--demangle", "--inlines"], input: input), r.ok
        else { return [:] }
        var answers: [SymbolQuery: SourceInfo] = [:]
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: true)
        for (query, line) in zip(queries, lines) {
            // With --inlines, Symbol[0] is the innermost (inlined) function: where the pc really is.
            guard let json = JSONValue(parsing: String(line)), let first = json["Symbol"]?.array?.first else {
                continue
            }
            let info = SourceInfo(
                function: known(first["FunctionName"]?.string), file: known(first["FileName"]?.string),
                line: first["Line"]?.int.flatMap { $0 > 0 ? $0 : nil },
                column: first["Column"]?.int.flatMap { $0 > 0 ? $0 : nil })
            if info.function != nil || info.location != nil { answers[query] = info }
        }
        return answers
    }

    // MARK: addr2line

    private static func addr2line(_ path: String, _ queries: [SymbolQuery]) -> [SymbolQuery: SourceInfo] {
        var answers: [SymbolQuery: SourceInfo] = [:]
        for (module, group) in Dictionary(grouping: queries, by: \.module)
        where FileManager.default.fileExists(atPath: module) {
            let args = ["-f", "-C", "-e", module] + group.map { "0x" + String($0.address, radix: 16) }
            guard let r = Subprocess.capture(path, args), r.ok else { continue }
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (k, query) in group.enumerated() where 2 * k + 1 < lines.count {
                // "FILE:LINE" or "FILE:LINE (discriminator N)"; "??:0" or "??:?" when unknown.
                let place = lines[2 * k + 1].components(separatedBy: " (").first ?? ""
                var info = SourceInfo(function: known(lines[2 * k]))
                if let colon = place.lastIndex(of: ":"), let line = Int(place[place.index(after: colon)...]), line > 0 {
                    info.file = known(String(place[..<colon]))
                    info.line = line
                }
                if info.function != nil || info.location != nil { answers[query] = info }
            }
        }
        return answers
    }

    private static func known(_ s: String?) -> String? {
        guard let s, !s.isEmpty, s != "??" else { return nil }
        return s
    }

    // MARK: Demangling

    static func isSwiftMangled(_ name: String) -> Bool {
        ["$s", "$S", "$e", "_$s", "_T0", "@__swiftmacro_"].contains { name.hasPrefix($0) }
    }

    /// Demangles Swift names with swift-demangle and Itanium C++ names with c++filt, one batch
    /// each; names that are not mangled, or that a tool cannot read, are left out.
    func demangle(_ names: Set<String>) -> [String: String] {
        var result: [String: String] = [:]
        func batch(_ tool: String?, _ args: [String], _ list: [String]) {
            guard let tool, !list.isEmpty,
                let r = Subprocess.capture(tool, args, input: list.joined(separator: "\n") + "\n"), r.ok
            else { return }
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            for (name, line) in zip(list, lines) where !line.isEmpty && line != name {
                result[name] = String(line)
            }
        }
        let sorted = names.sorted()
        batch(swiftDemangle, ["--simplified"], sorted.filter(Self.isSwiftMangled))
        batch(cxxfilt, [], sorted.filter { $0.hasPrefix("_Z") })
        return result
    }
}
