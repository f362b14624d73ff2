// GuardedMemory.swift — how the Swift layer obtains, writes and frees guarded memory.
//
// Every typed owner in this module (`Guarded`, `GuardedBuffer`) keeps one pointer: the
// read-only view of an object that `mg_alloc` returned. Reading goes straight through that
// pointer. Writing needs the writable alias, and the only place the owners ask for it is
// `withWriteSection`, which enters a write section with `mg_unprotect`, hands the alias to a
// non-escaping closure, and leaves the section with `mg_protect` however the closure ends. So the
// writable address never outlives the section, and a write through anything else traps in the C
// core's fault handler as a `stray-write`.
//
// Sizes are rounded up to a whole number of the type's alignment before they reach `mg_alloc`.
// The C core places an object so that it ends at its guard page (or starts right after the
// previous one with `protect_below=1`), and a page boundary minus a multiple of the alignment is
// itself aligned. That keeps typed access aligned even when MIRRORGUARD_OPTIONS asks for
// `alignment=1`; a returned address that is still misaligned (a C core that broke that
// placement) is freed again and reported as EINVAL rather than used.
//
// Failures come back from C as NULL plus `errno`; this file turns them into `Errno` values of
// swift-system, the way swift-system itself wraps system calls.
import CShim
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension Errno {
    /// The calling thread's C `errno`, read right after a C call that failed. A call that failed
    /// without setting it (errno still 0) counts as ENOMEM, the only failure `mg_alloc` documents.
    static var fromC: Errno {
        let code = errno
        return code == 0 ? .noMemory : Errno(rawValue: code)
    }
}

/// The C calls behind the typed owners, in one place.
enum GuardedMemory {
    /// The number of bytes to request for `count` values of `T`: `count` strides, which is a
    /// multiple of `T`'s alignment, or 0 for a type without storage. Throws ENOMEM when the product
    /// does not fit in an `Int` (as `mg_alloc` does for any size too large) and EINVAL for a
    /// negative count.
    static func byteCount<T>(of type: T.Type, count: Int) throws(Errno) -> Int {
        guard count >= 0 else { throw .invalidArgument }
        guard MemoryLayout<T>.size > 0 else { return 0 }
        let (bytes, overflow) = MemoryLayout<T>.stride.multipliedReportingOverflow(by: count)
        guard !overflow else { throw .noMemory }
        return bytes
    }

    /// A new zeroed object of `byteCount` bytes, by `mg_alloc`: its read-only view, bound to `T`.
    /// Throws the C errno when `mg_alloc` returns NULL, and EINVAL when the address is not aligned
    /// for `T` (after freeing it again).
    static func allocate<T>(_ type: T.Type, byteCount: Int) throws(Errno) -> UnsafeRawPointer {
        errno = 0
        guard let object = mg_alloc(byteCount) else { throw Errno.fromC }
        let readOnly = UnsafeRawPointer(object)
        guard Int(bitPattern: readOnly) & (MemoryLayout<T>.alignment - 1) == 0 else {
            mg_free(readOnly)
            throw .invalidArgument
        }
        // Binding is a promise to the compiler, not a write: both views hold T from now on.
        let capacity = MemoryLayout<T>.size > 0 ? byteCount / MemoryLayout<T>.stride : 0
        _ = readOnly.bindMemory(to: T.self, capacity: capacity)
        _ = writableAlias(of: readOnly).bindMemory(to: T.self, capacity: capacity)
        return readOnly
    }

    /// The writable alias of an object this module allocated, by `mg_rw` (no lock). Only for
    /// filling an object that no other code can see yet; everything else writes in a section.
    static func writableAlias(of readOnly: UnsafeRawPointer) -> UnsafeMutableRawPointer {
        guard let alias = mg_rw(readOnly) else {
            preconditionFailure("MirrorGuard: \(readOnly) is not in the arena; mg_rw returned NULL")
        }
        return alias
    }

    /// Runs `body` inside a write section on the object at `readOnly`: `mg_unprotect` before,
    /// `mg_protect` after, also when `body` throws. Sections nest on one thread and exclude other
    /// threads' sections (the C core holds one recursive, process-wide lock).
    static func withWriteSection<R: ~Copyable, E: Error>(
        _ readOnly: UnsafeRawPointer, _ body: (UnsafeMutableRawPointer) throws(E) -> R
    ) throws(E) -> R {
        guard let writable = mg_unprotect(readOnly) else {
            preconditionFailure("MirrorGuard: mg_unprotect(\(readOnly)) failed with errno \(errno)")
        }
        defer { _ = mg_protect(writable) }
        return try body(writable)
    }

    /// Frees an object, by `mg_free`.
    static func free(_ readOnly: UnsafeRawPointer) {
        mg_free(readOnly)
    }
}
