// GuardedBuffer.swift — a fixed number of elements in one guarded slot, owned by one variable.
//
// `GuardedBuffer<Element>` is the array-shaped sibling of `Guarded`: `count` elements laid out
// contiguously in a single object of the MirrorGuard arena, ending at its guard page. Reads go
// through the read-only view, element by element with a bounds-checked subscript or all at once
// through a `Span`. Writes happen only inside `withMutableSpan`, a write section that lends a
// `MutableSpan` over the writable alias to a non-escaping closure, so the writable address never
// leaves the section and every access through the span is bounds-checked.
//
// The count is fixed at creation; a buffer of zero elements is valid and still owns a (zero-byte)
// object. Elements are `BitwiseCopyable` for the reasons `Guarded` gives, and the owner is
// `~Copyable` and frees its object with `mg_free` when it goes away.
import CShim
import SystemPackage

/// A fixed-size buffer of `BitwiseCopyable` elements in one guarded slot, readable at any time
/// and writable only inside scoped write sections.
///
/// ```swift
/// var samples = try GuardedBuffer<Int32>([3, 1, 2])
/// samples.withMutableSpan { span in span[0] = 10 }
/// let total = samples.withSpan { span in span[0] + span[1] + span[2] }  // 13
/// ```
///
/// Underneath: `mg_alloc` on creation, `mg_unprotect`/`mg_protect` around each write section and
/// `mg_free` when the owner is destroyed.
public struct GuardedBuffer<Element: BitwiseCopyable>: ~Copyable {
    /// The read-only view of the object, as `mg_alloc` returned it.
    private let readOnly: UnsafeRawPointer

    /// The number of elements, fixed at creation.
    public let count: Int

    /// Allocates `count` zeroed elements in one guarded slot with `mg_alloc` (which zeroes).
    ///
    /// - Throws: `EINVAL` for a negative count or a misaligned object; `ENOMEM` when
    ///   `count * MemoryLayout<Element>.stride` overflows, and otherwise the `errno` of `mg_alloc`
    ///   when it returns NULL (`ENOMEM` for a size the arena cannot hold).
    public init(count: Int) throws(Errno) {
        let bytes = try GuardedMemory.byteCount(of: Element.self, count: count)
        readOnly = try GuardedMemory.allocate(Element.self, byteCount: bytes)
        self.count = count
    }

    /// Allocates a guarded slot with `mg_alloc` holding a copy of `elements`, in order.
    ///
    /// - Throws: as `init(count:)` does for `elements.count` elements.
    public init(_ elements: some Collection<Element>) throws(Errno) {
        try self.init(count: elements.count)
        // No other code can see the object yet, so it is filled through `mg_rw` without taking
        // the process-wide write lock.
        let writable = UnsafeMutableBufferPointer(
            start: GuardedMemory.writableAlias(of: readOnly).assumingMemoryBound(to: Element.self),
            count: count)
        var copied = 0
        for element in elements.prefix(count) {
            writable[copied] = element
            copied += 1
        }
        precondition(copied == count, "the collection produced fewer elements than its count")
    }

    /// Frees the object with `mg_free`. Its slot stays inaccessible in quarantine.
    deinit {
        GuardedMemory.free(readOnly)
    }

    /// Whether the buffer holds no elements.
    public var isEmpty: Bool { count == 0 }

    /// The valid subscripts, `0..<count`.
    public var indices: Range<Int> { 0..<count }

    /// The element at `index`, loaded through the read-only view (no C call, no lock).
    ///
    /// - Precondition: `0 <= index < count`; otherwise the program stops with a message.
    public subscript(index: Int) -> Element {
        precondition(index >= 0 && index < count, "GuardedBuffer index \(index) out of range 0..<\(count)")
        return readOnly.load(fromByteOffset: index * MemoryLayout<Element>.stride, as: Element.self)
    }

    /// Calls `body` with a `Span` over all elements, through the read-only view (no C call, no
    /// lock). The span cannot escape `body`.
    public func withSpan<R: ~Copyable, E: Error>(_ body: (Span<Element>) throws(E) -> R) throws(E) -> R {
        let elements = UnsafeBufferPointer(start: readOnly.assumingMemoryBound(to: Element.self), count: count)
        return try body(elements.span)
    }

    /// Calls `body` inside a write section with a `MutableSpan` over all elements, and returns what
    /// `body` returns.
    ///
    /// Underneath, `mg_unprotect` enters the section and yields the writable alias the span
    /// covers, and `mg_protect` leaves it, also when `body` throws (changes made before the throw
    /// stay). Sections nest on one thread; while one is open, other threads wait to enter theirs.
    public mutating func withMutableSpan<R: ~Copyable, E: Error>(
        _ body: (inout MutableSpan<Element>) throws(E) -> R
    ) throws(E) -> R {
        let count = self.count
        return try GuardedMemory.withWriteSection(readOnly) { (writable) throws(E) -> R in
            let elements = UnsafeMutableBufferPointer(
                start: writable.assumingMemoryBound(to: Element.self), count: count)
            var span = elements.mutableSpan
            return try body(&span)
        }
    }

    /// The address of the read-only view of the first element, as `mg_alloc` returned it.
    ///
    /// This is for handing the elements to C code that must not write to them: a write through
    /// this address traps and is reported as a `stray-write`. `mg_size` of it is
    /// `count * MemoryLayout<Element>.stride`. The address is invalid once the owner is gone.
    public var readOnlyAddress: UnsafeRawPointer {
        readOnly
    }
}

/// Sharing a borrowed owner between threads only reads; writing needs `mutating` access, which
/// Swift's exclusivity rules give to one thread at a time.
extension GuardedBuffer: @unchecked Sendable where Element: Sendable {}
