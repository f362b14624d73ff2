// MirrorGuard.swift — what a Swift program can ask the allocator about itself.
//
// The `MirrorGuard` namespace reads the C core's introspection calls: what the arena runs on,
// how guard pages are made, how many objects are live and how many reports were written, and the
// table of MIRRORGUARD_OPTIONS keys. Each property is a fresh call, so the numbers are current;
// nothing here is cached or duplicated from C. The option table is the same one that feeds the
// C parser, `help=1` and the harness, read through `mg_option_count` and `mg_option_at`, so a key
// added in options.def shows up here without a Swift change.
//
// The first of these calls (like the first `mg_` call of any kind) starts MirrorGuard: it reads
// MIRRORGUARD_OPTIONS, creates the arena and installs the fault handler.
import CShim

/// Facts about the running allocator and its options.
///
/// Underneath: `mg_backing`, `mg_guard_method`, `mg_arena_size`, `mg_live_objects`,
/// `mg_report_count`, `mg_option_count` and `mg_option_at`.
public enum MirrorGuard {
    /// What the arena file is, from `mg_backing`: "memfd", "shm" or "tmpfile", or "none" when the
    /// arena could not be created.
    public static var backing: String {
        String(cString: mg_backing())
    }

    /// How guard pages are made, from `mg_guard_method`: "madvise" (MADV_GUARD_INSTALL) or
    /// "mprotect", or "none" when the arena could not be created.
    public static var guardMethod: String {
        String(cString: mg_guard_method())
    }

    /// Bytes of arena file in use, holes included, from `mg_arena_size`.
    public static var arenaSize: Int {
        Int(mg_arena_size())
    }

    /// How many objects are live in the arena now, from `mg_live_objects`.
    public static var liveObjects: Int {
        Int(mg_live_objects())
    }

    /// How many reports this process has written, from `mg_report_count`.
    public static var reportCount: Int {
        Int(mg_report_count())
    }

    /// One key of MIRRORGUARD_OPTIONS, as the C table `mg_option_info_t` describes it.
    public struct Option: Sendable, Hashable, CustomStringConvertible {
        /// The key, e.g. "alignment" (`mg_option_info_t.name`).
        public let name: String
        /// The default, as the help text prints it, e.g. "16" (`mg_option_info_t.default_value`).
        public let defaultValue: String
        /// What the key accepts, e.g. "abort|continue" or "1..4096" (`mg_option_info_t.values`).
        public let values: String
        /// One sentence on what the key does (`mg_option_info_t.help`).
        public let help: String

        /// Creates an option description (tests and tools; MirrorGuard's own come from `options`).
        public init(name: String, defaultValue: String, values: String, help: String) {
            self.name = name
            self.defaultValue = defaultValue
            self.values = values
            self.help = help
        }

        /// One line: `name=default [values] help`.
        public var description: String {
            "\(name)=\(defaultValue) [\(values)] \(help)"
        }
    }

    /// Every option key, in the order of the C table, from `mg_option_count` and `mg_option_at`.
    public static var options: [Option] {
        (0..<max(0, Int(mg_option_count()))).compactMap { i in
            guard let info = mg_option_at(Int32(i))?.pointee else { return nil }
            return Option(
                name: String(cString: info.name), defaultValue: String(cString: info.default_value),
                values: String(cString: info.values), help: String(cString: info.help))
        }
    }
}
