// SwiftFixture — a tiny Swift program that the tests run in a child process.
//
// Its first argument picks what it does. `ok` uses the typed API the way a correct program would:
// it creates a guarded value and a guarded buffer, changes them only inside write sections
// (nested ones too), prints what it reads back and how many objects are live, and exits 0 with
// nothing reported. `stray` does what MirrorGuard exists to catch: `scribble(_:)` writes through
// the read-only address of a guarded value, which traps, so MirrorGuard reports a `stray-write`
// naming `scribble` and ends the process with its exit code (23) before "not reached" prints.
// `align` stores values whose size is not a multiple of 16 and prints whether each address is
// aligned for its type, which the tests run under `alignment=1` and `protect_below=1`.
//
// The run is a child process because a caught bug ends the process it happens in.
import MirrorGuard

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A record whose size (9 bytes) is not a multiple of its alignment (8).
struct Odd: Equatable {
    var wide: Int64
    var narrow: UInt8
}

/// Allocates the guarded value that `stray` scribbles on; named so that tests can find it in the
/// report's allocation stack.
@inline(never)
func makeBalance() throws -> Guarded<Int> {
    var balance = try Guarded(100)
    balance.withWriteAccess { $0 += 20 }
    return balance
}

/// The bug: writes through the read-only view, as C code handed `readOnlyAddress` might.
@inline(never)
func scribble(_ balance: borrowing Guarded<Int>) {
    let address = UnsafeMutableRawPointer(mutating: balance.readOnlyAddress)
    address.assumingMemoryBound(to: Int.self).pointee = 0
}

/// Creates, changes and reads a value and a buffer, and lets both go at the end.
@inline(never)
func useGuardedMemory() throws {
    var answer = try Guarded(41)
    print("value \(answer.value)")
    let previous = answer.withWriteAccess { value in
        defer { value += 1 }
        return value
    }
    print("value \(answer.value) was \(previous)")

    var samples = try GuardedBuffer<Int32>(count: 4)
    print("zeroed \(samples.withSpan { span in span.indices.map { span[$0] } })")
    samples.withMutableSpan { span in
        for i in span.indices { span[i] = Int32(i + 1) * 10 }
    }
    print("buffer \(samples.indices.map { samples[$0] })")

    // A section inside a section: the write lock is recursive for this thread.
    answer.withWriteAccess { value in
        samples.withMutableSpan { span in
            span[3] += 2
            value += Int(span[3])
        }
        value += 1
    }
    print("nested \(answer.value) \(samples[3])")

    let empty = try GuardedBuffer<Int32>([])
    print("empty \(empty.count) \(empty.withSpan { $0.count })")
    print("live \(MirrorGuard.liveObjects)")
}

/// Prints, for each value, whether its address is aligned for its type and what it reads back.
@inline(never)
func checkAlignment() throws {
    let odd = try Guarded(Odd(wide: -7, narrow: 9))
    let wide = try Guarded(SIMD4<Float>(1, 2, 3, 4))
    let odds = try GuardedBuffer([Odd(wide: 1, narrow: 2), Odd(wide: 3, narrow: 4), Odd(wide: 5, narrow: 6)])
    let bytes = try GuardedBuffer<UInt8>([1, 2, 3])
    func aligned<T>(_ address: UnsafeRawPointer, _: T.Type) -> String {
        Int(bitPattern: address) % MemoryLayout<T>.alignment == 0 ? "aligned" : "MISALIGNED"
    }
    print("odd \(aligned(odd.readOnlyAddress, Odd.self)) \(odd.value == Odd(wide: -7, narrow: 9))")
    print("simd \(aligned(wide.readOnlyAddress, SIMD4<Float>.self)) \(wide.value == SIMD4<Float>(1, 2, 3, 4))")
    print("odds \(aligned(odds.readOnlyAddress, Odd.self)) \(odds[2] == Odd(wide: 5, narrow: 6))")
    print("bytes \(bytes[0]) \(bytes[1]) \(bytes[2])")
}

switch CommandLine.arguments.dropFirst().first {
case "ok":
    print("live \(MirrorGuard.liveObjects)")
    try useGuardedMemory()
    print("live \(MirrorGuard.liveObjects)")
    print("reports \(MirrorGuard.reportCount)")
case "stray":
    let balance = try makeBalance()
    print("balance \(balance.value)")
    fflush(nil)  // every C stream: the report ends the process without flushing
    scribble(balance)
    print("not reached \(balance.value)")
case "align":
    try checkAlignment()
    print("live \(MirrorGuard.liveObjects)")
default:
    let usage = "usage: SwiftFixture ok|stray|align\n"
    _ = usage.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
