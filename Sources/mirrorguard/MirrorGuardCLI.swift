// MirrorGuardCLI.swift — the `mirrorguard` harness: the entry point and its subcommands.
//
//   run        Runner.swift gathers, Symbolizer.swift names, Summary.swift folds and prints
//   demo       Demo.swift with the example bugs of DemoPrograms.swift
//   symbolize  Symbolize.swift, over the report model of Reports.swift (and JSONValue.swift)
//   options    Options.swift, from the library's own option table
//   doctor     Doctor.swift
// Locations.swift finds the library, the package and the borrowed tools; Console.swift writes.
import ArgumentParser

@main
struct MirrorGuardCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirrorguard",
        abstract: "A guarded-memory debugging allocator: read-only mirrors, guard pages, reports.",
        discussion: """
            Runs programs with libmirrorguard.so preloaded, so every heap bug and every write \
            through a read-only view becomes a report with stack traces and file:line.
            Options for the library go in MIRRORGUARD_OPTIONS (see `mirrorguard options`).
            Start with `mirrorguard demo`.
            """,
        subcommands: [Run.self, Demo.self, Symbolize.self, Options.self, Doctor.self]
    )
}
