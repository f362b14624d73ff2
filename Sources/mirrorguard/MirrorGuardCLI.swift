// MirrorGuardCLI.swift — the `mirrorguard` harness: the entry point and its subcommands.
//
// `mirrorguard run -- prog args` starts a program with libmirrorguard.so preloaded, the way
// people run `valgrind --error-exitcode`. `mirrorguard options` prints the library's own option
// table (the one options.def declares), not a second list.
import ArgumentParser

@main
struct MirrorGuardCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirrorguard",
        abstract: "A guarded-memory debugging allocator: read-only mirrors, guard pages, reports.",
        discussion: """
            Runs programs with libmirrorguard.so preloaded, so every heap bug and every write \
            through a read-only view becomes a report with stack traces.
            Options for the library go in MIRRORGUARD_OPTIONS (see `mirrorguard options`).
            """,
        subcommands: [Run.self, Options.self]
    )
}
