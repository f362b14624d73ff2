// SwiftLayerTests.swift — the typed Swift layer (`Guarded`, `GuardedBuffer`, `MirrorGuard`) and
// the edges of the C API it stands on, exercised from Swift.
//
// Most tests run in this process: values round-trip, write sections change what the read-only
// view shows, sections nest and exclude other threads (observed with a second thread that tries
// to enter one), buffers of any count including zero, errors thrown as `Errno`, and owners that
// free on the way out. The C API checks are the promises of mirrorguard.h that the Swift layer
// relies on: conversions are idempotent and pure arithmetic, foreign pointers give NULL (and
// EINVAL where documented), and both views show the same bytes.
//
// What ends a process runs in a child: the `SwiftFixture` program (built by `swift test` with
// the other targets) must run clean in `ok` mode, keep typed access aligned under odd options,
// and in `stray` mode be stopped by exactly one `stray-write` report that names the Swift
// function that wrote, `scribble(_:)`, and the one that allocated, with exit status 23. A failed
// bounds check is an exit test of this test binary.
import CShim
import Dispatch
import Foundation
import MirrorGuard
import SystemPackage
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The SwiftFixture executable: next to this test binary (SwiftPM puts every product of one
/// build in the same folder), else in `.build/debug`.
private let swiftFixture: String = {
    var candidates: [String] = []
    if let testBinary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(
            URL(fileURLWithPath: testBinary).deletingLastPathComponent()
                .appendingPathComponent("SwiftFixture").path)
    }
    let fallback = Pkg.root.appendingPathComponent(".build/debug/SwiftFixture").path
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? fallback
}()

/// Starts a thread that enters and leaves a write section on `address`. Returns nil when it got
/// through within `seconds`, else the semaphore it signals once it does. While this thread holds
/// a section, the other one must wait; once the section is left, it must get through.
private func probeWriteSection(on address: UnsafeRawPointer, within seconds: Double) -> DispatchSemaphore? {
    let done = DispatchSemaphore(value: 0)
    let bits = UInt(bitPattern: address)
    Thread.detachNewThread {
        let p = UnsafeRawPointer(bitPattern: bits)
        let writable = mg_unprotect(p)
        _ = mg_protect(writable)
        done.signal()
    }
    return done.wait(timeout: .now() + seconds) == .success ? nil : done
}

private struct Point: Equatable {
    var x: Int32
    var y: Int32
}

private struct Boom: Error, Equatable {
    var code: Int
}

@Suite("Swift layer", .serialized, .timeLimit(.minutes(2)))
struct SwiftLayerTests {
    // MARK: Guarded

    @Test("Guarded round-trips values of several layouts and lives in the read-only view")
    func guardedRoundTrip() throws {
        let int = try Guarded(-1_234_567_890_123)
        #expect(int.value == -1_234_567_890_123)
        let double = try Guarded(2.5)
        #expect(double.value == 2.5)
        let point = try Guarded(Point(x: 3, y: -4))
        #expect(point.value == Point(x: 3, y: -4))
        let vector = try Guarded(SIMD4<Float>(1, 2, 3, 4))
        #expect(vector.value == SIMD4<Float>(1, 2, 3, 4))
        let byte = try Guarded(UInt8(0xA5))
        #expect(byte.value == 0xA5)

        let address = point.readOnlyAddress
        #expect(mg_size(address) == MemoryLayout<Point>.stride)
        #expect(mg_ro(address) == address, "readOnlyAddress must be the read-only view")
        #expect(mg_rw(address) != nil && UnsafeRawPointer(mg_rw(address)!) != address)
        #expect(address.load(as: Point.self) == Point(x: 3, y: -4))
        #expect(Int(bitPattern: vector.readOnlyAddress) % MemoryLayout<SIMD4<Float>>.alignment == 0)
        #expect(mg_size(vector.readOnlyAddress) == 16)
    }

    @Test("withSpan reads the value in place through a one-element Span")
    func guardedSpan() throws {
        let point = try Guarded(Point(x: 7, y: 8))
        let (count, first) = point.withSpan { span in (span.count, span[0]) }
        #expect(count == 1)
        #expect(first == Point(x: 7, y: 8))
    }

    @Test("withWriteAccess changes the value, returns the body's result, and leaves the section")
    func guardedWriteAccess() throws {
        var point = try Guarded(Point(x: 1, y: 2))
        let old = point.withWriteAccess { value -> Point in
            defer {
                value.x = 10
                value.y += 30
            }
            return value
        }
        #expect(old == Point(x: 1, y: 2))
        #expect(point.value == Point(x: 10, y: 32))
        #expect(point.readOnlyAddress.load(as: Point.self) == Point(x: 10, y: 32))
        #expect(point.withSpan { $0[0] } == Point(x: 10, y: 32))
        let probe = probeWriteSection(on: point.readOnlyAddress, within: 10)
        #expect(probe == nil, "the write section was not left")
    }

    @Test("a throwing body keeps its changes, the error arrives typed, and the section is left")
    func guardedWriteAccessThrows() throws {
        var count = try Guarded(5)
        do {
            try count.withWriteAccess { (value: inout Int) throws(Boom) in
                value = 6
                throw Boom(code: 7)
            }
            Issue.record("the body's error was swallowed")
        } catch {
            #expect(error == Boom(code: 7))  // `error` is a Boom: the throw is typed
        }
        #expect(count.value == 6)
        let probe = probeWriteSection(on: count.readOnlyAddress, within: 10)
        #expect(probe == nil, "the write section was left open by the throw")
    }

    @Test("sections nest on one thread and shut other threads out until the outermost is left")
    func nestedWriteSections() throws {
        var outer = try Guarded(100)
        var inner = try GuardedBuffer<Int32>([1, 2, 3])
        let innerAddress = inner.readOnlyAddress
        var waiting: [DispatchSemaphore] = []
        outer.withWriteAccess { total in
            // Another thread cannot enter a section while this one holds one.
            if let blocked = probeWriteSection(on: innerAddress, within: 0.2) {
                waiting.append(blocked)
            } else {
                Issue.record("another thread entered a write section while one was open")
            }
            inner.withMutableSpan { span in
                span[1] = 20
                total += Int(span[0] + span[1] + span[2])
            }
            // The inner section has been left, but the outer one still holds the lock.
            if let blocked = probeWriteSection(on: innerAddress, within: 0.2) {
                waiting.append(blocked)
            } else {
                Issue.record("leaving a nested section released the lock of the outer one")
            }
            total += 1
        }
        #expect(waiting.count == 2)
        for blocked in waiting {
            #expect(blocked.wait(timeout: .now() + 10) == .success, "a waiting thread never got in")
        }
        #expect(outer.value == 125)
        #expect(inner[1] == 20)
    }

    @Test("the owner frees its object: mg_size of a consumed owner's address is 0")
    func guardedFreesOnDeinit() throws {
        let value = try Guarded(Point(x: 1, y: 1))
        let address = value.readOnlyAddress
        #expect(mg_size(address) == MemoryLayout<Point>.stride)
        #expect(MirrorGuard.liveObjects >= 1)
        _ = consume value
        #expect(mg_size(address) == 0)

        let buffer = try GuardedBuffer<Int64>(count: 3)
        let bufferAddress = buffer.readOnlyAddress
        #expect(mg_size(bufferAddress) == 24)
        _ = consume buffer
        #expect(mg_size(bufferAddress) == 0)
    }

    // MARK: GuardedBuffer

    @Test("GuardedBuffer(count:) is zeroed, sized and read-only")
    func bufferZeroed() throws {
        let buffer = try GuardedBuffer<Int64>(count: 5)
        let isEmpty = buffer.isEmpty
        #expect(buffer.count == 5)
        #expect(!isEmpty)
        #expect(buffer.indices == 0..<5)
        #expect(buffer.indices.map { buffer[$0] } == [0, 0, 0, 0, 0])
        #expect(mg_size(buffer.readOnlyAddress) == 5 * 8)
        #expect(mg_ro(buffer.readOnlyAddress) == buffer.readOnlyAddress)
    }

    @Test("GuardedBuffer copies any collection, in order")
    func bufferFromCollections() throws {
        let array = try GuardedBuffer<Int16>([3, -1, 4, -1, 5])
        #expect(array.count == 5)
        #expect(array.indices.map { array[$0] } == [3, -1, 4, -1, 5])

        let range = try GuardedBuffer(10...13)
        #expect(range.indices.map { range[$0] } == [10, 11, 12, 13])

        let utf8 = try GuardedBuffer("héllo".utf8)
        #expect(utf8.count == 6)
        #expect(String(decoding: utf8.indices.map { utf8[$0] }, as: UTF8.self) == "héllo")

        let points = try GuardedBuffer([Point(x: 1, y: 2), Point(x: 3, y: 4)])
        #expect(points[1] == Point(x: 3, y: 4))
        #expect(mg_size(points.readOnlyAddress) == 2 * MemoryLayout<Point>.stride)
    }

    @Test("withSpan and withMutableSpan see and change every element")
    func bufferSpans() throws {
        var buffer = try GuardedBuffer<UInt32>([1, 2, 3, 4])
        let (count, sum) = buffer.withSpan { span in
            (span.count, span.indices.reduce(0) { $0 + span[$1] })
        }
        #expect(count == 4)
        #expect(sum == 10)

        let mutableCount = buffer.withMutableSpan { span in
            for i in span.indices { span[i] *= 100 }
            span.swapAt(0, 3)
            return span.count
        }
        #expect(mutableCount == 4)
        #expect(buffer.indices.map { buffer[$0] } == [400, 200, 300, 100])
        #expect(buffer.withSpan { span in span[3] } == 100)
        // The read-only view shows the writes, byte for byte.
        #expect(buffer.readOnlyAddress.load(fromByteOffset: 4, as: UInt32.self) == 200)

        do {
            try buffer.withMutableSpan { (span: inout MutableSpan<UInt32>) throws(Boom) in
                span[2] = 7
                throw Boom(code: 2)
            }
            Issue.record("the body's error was swallowed")
        } catch {
            #expect(error == Boom(code: 2))
        }
        #expect(buffer[2] == 7)
        let probe = probeWriteSection(on: buffer.readOnlyAddress, within: 10)
        #expect(probe == nil, "the write section was left open by the throw")
    }

    @Test("a buffer of zero elements works everywhere")
    func bufferEmpty() throws {
        var counted = try GuardedBuffer<Int32>(count: 0)
        let isEmpty = counted.isEmpty
        #expect(counted.count == 0)
        #expect(isEmpty)
        #expect(counted.indices.isEmpty)
        #expect(counted.withSpan { $0.count } == 0)
        #expect(counted.withSpan { $0.isEmpty })
        #expect(counted.withMutableSpan { span in span.count } == 0)
        #expect(mg_ro(counted.readOnlyAddress) == counted.readOnlyAddress, "a zero-byte object is still in the arena")
        #expect(mg_size(counted.readOnlyAddress) == 0)

        let copied = try GuardedBuffer<Point>([])
        #expect(copied.count == 0)
        #expect(copied.withSpan { $0.count } == 0)
    }

    @Test("an index out of range stops the program with a message", arguments: [-1, 3])
    func bufferBoundsCheck(index: Int) async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [index] in
            let buffer = try GuardedBuffer<Int32>([1, 2, 3])
            _ = buffer[index]
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("GuardedBuffer index \(index) out of range 0..<3"), "\(stderr)")
    }

    @Test("allocation failures are thrown as Errno")
    func errorsAreErrno() throws {
        // Too large for the arena: mg_alloc returns NULL with ENOMEM.
        #expect(throws: Errno.noMemory) { _ = try GuardedBuffer<UInt64>(count: Int.max / 8) }
        // count * stride overflows before C is asked.
        #expect(throws: Errno.noMemory) { _ = try GuardedBuffer<UInt64>(count: Int.max) }
        #expect(throws: Errno.invalidArgument) { _ = try GuardedBuffer<UInt64>(count: -1) }
        // The error type is Errno itself, not `any Error`.
        do {
            _ = try GuardedBuffer<UInt8>(count: -5)
            Issue.record("a negative count was accepted")
        } catch {
            #expect(error.rawValue == EINVAL)
        }
        // Nothing is left broken: the next allocation works.
        let after = try GuardedBuffer<UInt8>([9])
        #expect(after[0] == 9)
    }

    // MARK: MirrorGuard namespace

    @Test("MirrorGuard reports its backing, guard method and option table from C")
    func introspection() throws {
        #expect(["memfd", "shm", "tmpfile"].contains(MirrorGuard.backing), "\(MirrorGuard.backing)")
        #expect(["madvise", "mprotect"].contains(MirrorGuard.guardMethod), "\(MirrorGuard.guardMethod)")
        let value = try Guarded(1)
        #expect(MirrorGuard.liveObjects >= 1)
        #expect(MirrorGuard.arenaSize >= 4096)
        _ = consume value

        let options = MirrorGuard.options
        #expect(options.count == Int(mg_option_count()))
        #expect(Set(options.map(\.name)).count == options.count, "option names repeat")
        for (i, option) in options.enumerated() {
            let info = try #require(mg_option_at(Int32(i))).pointee
            #expect(option.name == String(cString: info.name))
            #expect(option.defaultValue == String(cString: info.default_value))
            #expect(option.values == String(cString: info.values))
            #expect(option.help == String(cString: info.help))
            #expect(!option.help.isEmpty, "\(option.name) has no help")
        }
        #expect(mg_option_at(mg_option_count()) == nil)
        let byName = Dictionary(options.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byName["exitcode"]?.defaultValue == "23")
        #expect(byName["exitcode"]?.values == "0..255")
        #expect(byName["on_error"]?.defaultValue == "abort")
        #expect(byName["on_error"]?.values == "abort|continue")
        #expect(byName["alignment"]?.defaultValue == "16")
        #expect(byName["log_format"]?.values == "text|json")
        #expect(byName["on_error"]?.description.hasPrefix("on_error=abort [abort|continue] ") == true)
    }

    // MARK: The C API from Swift

    @Test("mg_rw and mg_ro are idempotent, inverse, and a fixed distance apart")
    func conversions() throws {
        let a = try #require(mg_alloc(40))
        let b = try #require(mg_alloc(5000))
        defer {
            mg_free(a)
            mg_free(b)
        }
        let aRO = UnsafeRawPointer(a)
        let aRW = try #require(mg_rw(aRO))
        #expect(UnsafeRawPointer(aRW) != aRO)
        #expect(mg_rw(aRW) == aRW)
        #expect(mg_rw(mg_rw(aRO)) == mg_rw(aRO))
        #expect(mg_ro(aRO) == aRO)
        #expect(mg_ro(mg_ro(aRO)) == aRO)
        #expect(mg_ro(aRW) == aRO)
        let bRO = UnsafeRawPointer(b)
        let bRW = try #require(mg_rw(bRO))
        #expect(UnsafeRawPointer(aRW) - aRO == UnsafeRawPointer(bRW) - bRO, "the views are not a fixed distance apart")
        // Interior pointers convert too: the alias is arithmetic, not a lookup of object starts.
        #expect(mg_rw(aRO + 13) == aRW + 13)
        #expect(Int(bitPattern: aRO) % 16 == 0 && Int(bitPattern: bRO) % 16 == 0)
    }

    @Test("foreign pointers give NULL, and EINVAL from mg_unprotect and mg_protect")
    func foreignPointers() throws {
        var local = 42
        let heap = try #require(malloc(32))
        defer { free(heap) }
        withUnsafeMutableBytes(of: &local) { stack in
            let foreign: [UnsafeRawPointer?] = [UnsafeRawPointer(stack.baseAddress!), UnsafeRawPointer(heap), nil]
            for p in foreign {
                #expect(mg_rw(p) == nil)
                #expect(mg_ro(p) == nil)
                #expect(mg_size(p) == 0)
                errno = 0
                #expect(mg_unprotect(p) == nil)
                #expect(errno == EINVAL)
                errno = 0
                #expect(mg_protect(p) == nil)
                #expect(errno == EINVAL)
            }
        }
        #expect(local == 42)
    }

    @Test("mg_size gives the usable size from either view and 0 elsewhere; mg_free(NULL) is harmless")
    func sizes() throws {
        for n in [1, 7, 24, 4096, 5000] {
            let p = try #require(mg_alloc(n))
            #expect(mg_size(p) == n)
            #expect(mg_size(mg_rw(p)) == n)
            #expect(mg_size(p + 1) == 0, "an interior pointer is not an object start")
            mg_free(p)
            #expect(mg_size(p) == 0, "a freed object has no usable size")
        }
        let zero = try #require(mg_alloc(0))
        #expect(mg_ro(zero) == UnsafeRawPointer(zero))
        mg_free(zero)
        mg_free(nil)
        let still = try #require(mg_alloc(8))
        #expect(mg_size(still) == 8)
        mg_free(still)
    }

    @Test("both views show the same bytes: zeroed at first, then what was written through rw")
    func viewsShareBytes() throws {
        let ro = UnsafeRawPointer(try #require(mg_alloc(64)))
        defer { mg_free(ro) }
        #expect(UnsafeRawBufferPointer(start: ro, count: 64).allSatisfy { $0 == 0 })
        let rw = try #require(mg_rw(ro))
        rw.storeBytes(of: 0xDEAD_BEEF, toByteOffset: 4, as: UInt32.self)
        rw.storeBytes(of: 0x7F, toByteOffset: 63, as: UInt8.self)
        #expect(ro.load(fromByteOffset: 4, as: UInt32.self) == 0xDEAD_BEEF)
        #expect(ro.load(fromByteOffset: 63, as: UInt8.self) == 0x7F)
        #expect(ro.load(fromByteOffset: 0, as: UInt32.self) == 0)
        // And inside a write section, through the alias mg_unprotect returns.
        let section = try #require(mg_unprotect(ro))
        #expect(section == rw)
        section.storeBytes(of: 99, toByteOffset: 8, as: UInt64.self)
        #expect(mg_protect(section) == ro)
        #expect(ro.load(fromByteOffset: 8, as: UInt64.self) == 99)
    }

    // MARK: Child processes

    @Test("SwiftFixture ok: write sections, spans and frees in a clean run")
    func fixtureOK() throws {
        try #require(FileManager.default.isExecutableFile(atPath: swiftFixture), "not built: \(swiftFixture)")
        let r = run(swiftFixture, ["ok"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(
            r.stdout == """
                live 0
                value 41
                value 42 was 41
                zeroed [0, 0, 0, 0]
                buffer [10, 20, 30, 40]
                nested 85 42
                empty 0 0
                live 3
                live 0
                reports 0

                """)
        #expect(Report.all(in: r.stderr).isEmpty)
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }

    @Test("SwiftFixture stray: a write through readOnlyAddress is one stray-write naming scribble")
    func fixtureStray() throws {
        try #require(FileManager.default.isExecutableFile(atPath: swiftFixture), "not built: \(swiftFixture)")
        let r = run(swiftFixture, ["stray"])
        #expect(r.status == 23, "\(r.stderr)")
        #expect(!r.signaled)
        #expect(r.stdout == "balance 120\n", "the write went through or output is off: \(r.stdout)")
        let reports = Report.all(in: r.stderr)
        #expect(reports.count == 1, "\(r.stderr)")
        let report = try #require(reports.first)
        #expect(report.kind == "stray-write")
        #expect(report.access == "WRITE")
        #expect(report.frames.prefix(4).contains { $0.contains("scribble") }, "\(report.text)")
        #expect(report.summary.contains("scribble"), "\(report.summary)")
        #expect(report.location?.contains("0 bytes inside a 8-byte region") == true, "\(report.text)")
        #expect(report.allocatedBy.contains { $0.contains("makeBalance") }, "\(report.text)")
        #expect(report.freedBy.isEmpty)
    }

    @Test(
        "typed access stays aligned under alignment and placement options",
        arguments: ["", "alignment=1", "protect_below=1", "alignment=1:protect_below=1", "alignment=4096"])
    func fixtureAlignment(options: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: swiftFixture), "not built: \(swiftFixture)")
        let r = run(swiftFixture, ["align"], env: options.isEmpty ? [:] : ["MIRRORGUARD_OPTIONS": options])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(
            r.stdout == """
                odd aligned true
                simd aligned true
                odds aligned true
                bytes 1 2 3
                live 0

                """)
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }
}
