// SnapshotTests.swift — copy-on-write snapshots: the founding scenario (a list; snapshot; put;
// snapshot; put: three states readable at once), 40 nested snapshots over 128 MiB checked page
// for page, writes through malloc'd pointers from 4 threads, read(2) into protected memory, a
// fork child's writes, release, and the copy fallback forced by snapshot=copy.
import CShim
import Foundation
import MirrorGuard
import Testing

@Suite("Snapshots", .serialized)
struct SnapshotTests {
    @Test("the founding scenario in Swift: three states of a list readable at once, and what changed")
    func foundingScenario() throws {
        var count = try Guarded(0)
        var items = try GuardedBuffer<Int32>(count: 8)
        func put(_ value: Int32) {
            let i = count.value
            items.withMutableSpan { $0[i] = value }
            count.withWriteAccess { $0 += 1 }
        }
        func list(count n: Int?, items all: [Int32]?) -> [Int32] { Array((all ?? []).prefix(n ?? 0)) }
        put(1)
        put(2)
        let first = try Snapshot()
        put(3)
        let second = try Snapshot()
        put(4)
        #expect(list(count: first.value(of: count), items: first.elements(of: items)) == [1, 2])
        #expect(list(count: second.value(of: count), items: second.elements(of: items)) == [1, 2, 3])
        #expect(list(count: count.value, items: items.withSpan { s in (0..<s.count).map { s[$0] } }) == [1, 2, 3, 4])
        let changes = first.changes(until: second)
        #expect(changes.allSatisfy { $0.kind == .written })
        #expect(changes.contains { $0.object == items.readOnlyAddress && $0.range == 8..<9 }, "element 2 written: \(changes)")
        #expect(changes.contains { $0.object == count.readOnlyAddress }, "\(changes)")
        #expect(changes.count == 2)
        let sinceSecond = second.changes()
        #expect(sinceSecond.contains { $0.object == items.readOnlyAddress && $0.range == 12..<13 })
        #expect(first.memory > 0 && first.memory % 4096 == 0)
        // The method shows in behaviour: write-protection copies nothing until a write, the
        // fallback copies every live object when the snapshot is taken.
        let idle = try Snapshot()
        if Snapshot.method == "userfaultfd" { #expect(idle.memory == 0) }
        else { #expect(Snapshot.method == "copy" && idle.memory > 0) }
    }

    @Test("objects allocated after a snapshot did not exist in it; objects freed since stay readable")
    func allocatedAndFreed() throws {
        let gone = try Guarded(41)
        let address = gone.readOnlyAddress
        let snapshot = try Snapshot()
        _ = consume gone // freed after the snapshot
        let fresh = try Guarded(7)
        #expect(snapshot.value(of: fresh) == nil)
        #expect(snapshot.value(at: address, as: Int.self) == 41)
        let kinds = snapshot.changes().map(\.kind)
        #expect(kinds.contains(.freed) && kinds.contains(.allocated))
    }

    @Test("the founding scenario in C, with read(2) into protected memory and a fork child",
          arguments: ["", "snapshot=copy"])
    func cScenario(options: String) {
        let r = runFixture("snapshot_list", linked: true, options: options)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == """
            s1: 2 1
            s2: 3 20 1
            now: 4 3 20 1
            node 3 in s1: absent
            s1 -> s2: 2 changes, 1 written, 1 allocated
            read(2) into a protected buffer: ok, snapshot kept 'a'
            after the child: 4 3 20 1
            s3 still sees 'a'
            method \(options.isEmpty ? "userfaultfd" : "copy")

            """)
    }

    @Test("40 nested snapshots over 128 MiB, random writes from 4 threads through malloc'd pointers, page for page")
    func nested() {
        let r = runFixture("snapshot_nested", linked: true, args: ["128", "40"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "40 snapshots of 128 MiB: 0 mismatches, memory proportional to writes: yes (oldest > newest), stores mapped all, after release 0\n")
    }

    @Test("the copy fallback, forced: correct, and it copies at take time")
    func copyFallback() {
        let r = runFixture("snapshot_nested", linked: true, options: "snapshot=copy", args: ["16", "10"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("10 snapshots of 16 MiB: 0 mismatches, "), "\(r.stdout)")
        #expect(r.stdout.hasSuffix("stores mapped all, after release 0\n"), "\(r.stdout)")
    }
}
