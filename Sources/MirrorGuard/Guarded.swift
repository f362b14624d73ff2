// Guarded.swift — one value in guarded memory, owned by exactly one variable.
//
// `Guarded<Value>` keeps a single value in its own slot of the MirrorGuard arena. The owner holds
// only the read-only view that `mg_alloc` returned, so reading the value is an ordinary load, and
// any code that writes through that address (C code handed `readOnlyAddress`, say) traps and is
// reported as a `stray-write` with its stack. The one sanctioned way to change the value is
// `withWriteAccess`, a scoped write section: the writable alias exists only for the duration of a
// non-escaping closure and the section is left even when the closure throws.
//
// The type is `~Copyable` because it owns memory: a copy would free the object twice. The value
// type must be `BitwiseCopyable`, because the arena is raw bytes that MirrorGuard zeroes, copies
// in snapshots and reads from a signal handler; nothing in it may need retaining or a deinit.
// The owner frees the object with `mg_free` when it goes away.
import CShim
import SystemPackage

/// A single `BitwiseCopyable` value in its own guarded slot, readable at any time and writable
/// only inside scoped write sections.
///
/// ```swift
/// var balance = try Guarded(100)
/// balance.withWriteAccess { $0 -= 30 }
/// print(balance.value)  // 70
/// ```
///
/// Underneath: `mg_alloc` on creation, `mg_unprotect`/`mg_protect` around each write section and
/// `mg_free` when the owner is destroyed.
public struct Guarded<Value: BitwiseCopyable>: ~Copyable {
    /// The read-only view of the object, as `mg_alloc` returned it.
    private let readOnly: UnsafeRawPointer

    /// Allocates a guarded slot with `mg_alloc` and stores `value` in it.
    ///
    /// The slot holds `MemoryLayout<Value>.stride` bytes (0 for a type without storage), so its
    /// address is aligned for `Value` under any `alignment` option.
    ///
    /// - Throws: the `errno` of `mg_alloc` when it returns NULL (`ENOMEM` when the arena cannot
    ///   grow or could not be created), or `EINVAL` if the object would be misaligned for `Value`.
    public init(_ value: Value) throws(Errno) {
        let bytes = try GuardedMemory.byteCount(of: Value.self, count: 1)
        readOnly = try GuardedMemory.allocate(Value.self, byteCount: bytes)
        // No other code can see the object yet, so it is filled through `mg_rw` without taking
        // the process-wide write lock.
        GuardedMemory.writableAlias(of: readOnly).storeBytes(of: value, as: Value.self)
    }

    /// Frees the object with `mg_free`. Its slot stays inaccessible in quarantine, so a read
    /// through an address kept from `readOnlyAddress` is reported as a `heap-use-after-free`.
    deinit {
        GuardedMemory.free(readOnly)
    }

    /// The current value, loaded through the read-only view (no C call, no lock).
    public var value: Value {
        readOnly.load(as: Value.self)
    }

    /// Calls `body` with a one-element `Span` over the read-only view (no C call, no lock).
    ///
    /// The span cannot escape `body`; it is how to read the value in place rather than as a copy.
    public func withSpan<R: ~Copyable, E: Error>(_ body: (Span<Value>) throws(E) -> R) throws(E) -> R {
        let elements = UnsafeBufferPointer(start: readOnly.assumingMemoryBound(to: Value.self), count: 1)
        return try body(elements.span)
    }

    /// Calls `body` inside a write section with the value as an `inout` parameter, and returns
    /// what `body` returns.
    ///
    /// Underneath, `mg_unprotect` enters the section and yields the writable alias, and
    /// `mg_protect` leaves it, also when `body` throws (changes made before the throw stay).
    /// Sections nest on one thread; while one is open, other threads wait to enter theirs.
    public mutating func withWriteAccess<R: ~Copyable, E: Error>(
        _ body: (inout Value) throws(E) -> R
    ) throws(E) -> R {
        try GuardedMemory.withWriteSection(readOnly) { (writable) throws(E) -> R in
            try body(&writable.assumingMemoryBound(to: Value.self).pointee)
        }
    }

    /// The address of the read-only view, as `mg_alloc` returned it.
    ///
    /// This is for handing the value to C code that must not write to it, and for demonstrating
    /// what MirrorGuard catches: a write through this address traps and is reported as a
    /// `stray-write`. Reads are fine while the owner is alive; the address is invalid after it.
    /// `mg_rw` of it is the writable alias, and `mg_size` of it is `MemoryLayout<Value>.stride`.
    public var readOnlyAddress: UnsafeRawPointer {
        readOnly
    }
}

/// Sharing a borrowed owner between threads only reads; writing needs `mutating` access, which
/// Swift's exclusivity rules give to one thread at a time.
extension Guarded: @unchecked Sendable where Value: Sendable {}
