// Snapshot.swift — copy-on-write snapshots of every guarded object, from Swift.
//
// A `Snapshot` (mg_snapshot_take) freezes the state of the whole arena: any `Guarded` value or
// `GuardedBuffer` can later be read as it was when the snapshot was taken, even after it was
// written or freed, and `changes(since:)` lists what was written, allocated or freed in between.
// Taking one write-protects the arena; each page is copied only at its first write afterwards.
// Any number may be alive at once. The snapshot frees its copies when it goes away.
import CShim
import SystemPackage

/// The state of every guarded object at one moment (`mg_snapshot_take`).
public struct Snapshot: ~Copyable, @unchecked Sendable {
    let handle: OpaquePointer

    /// Takes a snapshot of every guarded object (`mg_snapshot_take`).
    public init() throws(Errno) {
        guard let h = mg_snapshot_take() else { throw Errno.fromC }
        handle = h
    }

    deinit { mg_snapshot_release(handle) }

    /// The value as it was when the snapshot was taken, or nil if it did not exist then
    /// (`mg_snapshot_view`).
    public func value<Value>(of guarded: borrowing Guarded<Value>) -> Value? {
        guard let p = mg_snapshot_view(handle, guarded.readOnlyAddress) else { return nil }
        return p.loadUnaligned(as: Value.self)
    }

    /// The buffer's elements as they were when the snapshot was taken, or nil if the buffer did
    /// not exist then (`mg_snapshot_view`).
    public func elements<Element>(of buffer: borrowing GuardedBuffer<Element>) -> [Element]? {
        if buffer.isEmpty { return mg_snapshot_view(handle, buffer.readOnlyAddress) == nil ? nil : [] }
        guard let p = mg_snapshot_view(handle, buffer.readOnlyAddress) else { return nil }
        let stride = MemoryLayout<Element>.stride
        return (0..<buffer.count).map { p.loadUnaligned(fromByteOffset: $0 * stride, as: Element.self) }
    }

    /// One change between two moments: bytes written in an object that lived through both, or an
    /// object allocated or freed in between.
    public struct Change: Equatable {
        public enum Kind: Sendable { case written, allocated, freed }
        /// The object's read-only address.
        public let object: UnsafeRawPointer
        /// The bytes concerned, within the object.
        public let range: Range<Int>
        public let kind: Kind
    }

    /// What changed between this snapshot and now (`mg_snapshot_changes`).
    public func changes() -> [Change] { collect(nil) }

    /// What changed between this snapshot and a later one (`mg_snapshot_changes`).
    public func changes(until later: borrowing Snapshot) -> [Change] { collect(later.handle) }

    private func collect(_ other: OpaquePointer?) -> [Change] {
        let total = mg_snapshot_changes(handle, other, nil, 0)
        let raw = UnsafeMutableBufferPointer<mg_change_t>.allocate(capacity: max(total, 1))
        defer { raw.deallocate() }
        let n = mg_snapshot_changes(handle, other, raw.baseAddress, total)
        return raw.prefix(min(n, total)).map { c in
            Change(object: c.object, range: c.offset..<(c.offset + c.length),
                   kind: c.kind == MG_CHANGE_WRITTEN ? .written : c.kind == MG_CHANGE_ALLOCATED ? .allocated : .freed)
        }
    }

    /// The value at `address` (inside a guarded object, either view) as it was when the snapshot
    /// was taken, or nil if no object was there then; works for objects freed since
    /// (`mg_snapshot_view`).
    public func value<T: BitwiseCopyable>(at address: UnsafeRawPointer, as type: T.Type) -> T? {
        mg_snapshot_view(handle, address)?.loadUnaligned(as: T.self)
    }

    /// Bytes of memory this snapshot's copies hold (`mg_snapshot_memory`).
    public var memory: Int { mg_snapshot_memory(handle) }

    /// How snapshots preserve memory here: "userfaultfd" or "copy" (`mg_snapshot_method`).
    public static var method: String { String(cString: mg_snapshot_method()) }
}
