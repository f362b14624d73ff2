// Doctor.swift — `mirrorguard doctor`: what this machine offers, and what MirrorGuard will use.
//
// Each kernel feature is tried, not guessed from the kernel version: a memfd is created, one of
// its pages mapped MAP_SHARED gets MADV_GUARD_INSTALL, a userfaultfd is opened and asked for its
// features, a protection key is allocated. What the library will pick is asked of the library
// itself: /bin/true runs with it preloaded and verbosity=1, and its start-up banner says which
// arena backing and guard method it chose. The tools the harness borrows are looked up as `run`
// looks them up.
//
// Several of these calls have no Swift import (glibc declares them only under _GNU_SOURCE, and
// syscall/ioctl are variadic), so they are found with dlsym and called through typed pointers.
// On x86-64 and arm64 a variadic callee reads its integer arguments from the same registers, so
// the typed call is the call C would make.
import ArgumentParser
import Foundation
import Glibc

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what this machine offers MirrorGuard and what it will use.",
        discussion: """
            Tries each kernel feature MirrorGuard can use — memfd, MADV_GUARD_INSTALL on shared \
            memory, userfaultfd write-protect, protection keys — reads vm.max_map_count, finds \
            the symbolizers and libunwind, and asks the built library which arena backing and \
            guard method it picks here. One line per feature: name, what this machine has, what \
            MirrorGuard does with it. Changes nothing; always exits 0.
            """)

    func run() throws {
        let rows = Probe.all()
        let width0 = rows.map(\.feature.count).max() ?? 0
        let width1 = rows.map(\.available.count).max() ?? 0
        var lines = ["MirrorGuard doctor: what this machine offers and what MirrorGuard will use", ""]
        lines.append(Self.pad("feature", width0) + "  " + Self.pad("here", width1) + "  MirrorGuard")
        for r in rows {
            lines.append(Self.pad(r.feature, width0) + "  " + Self.pad(r.available, width1) + "  " + r.use)
        }
        print(lines.joined(separator: "\n"))
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s + String(repeating: " ", count: max(0, width - s.count))
    }
}

/// One line of the doctor's table.
struct ProbeRow {
    var feature: String
    var available: String  // "yes", "no", or a value
    var use: String
}

enum Probe {
    static func all() -> [ProbeRow] {
        let library = try? Locations.library()
        let choice = library.flatMap(libraryChoice)
        let memfd = memfdWorks()
        let guardShmem = guardInstallOnShmem()
        let uffd = userfaultfdFeatures()
        let pkeys = protectionKeys()
        let maxMaps = (try? String(contentsOfFile: "/proc/sys/vm/max_map_count", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let llvm = Locations.tool(["llvm-symbolizer"])
        let addr2line = Locations.tool(["addr2line"])
        let snapshots = library.map { hasSymbol($0, "mg_snapshot_take") } ?? false
        let guardMethod = choice?.guardMethod ?? (guardShmem.ok ? "madvise" : "mprotect")

        var rows: [ProbeRow] = []
        rows.append(
            ProbeRow(
                feature: "libmirrorguard.so", available: library == nil ? "no" : "yes",
                use: library ?? "not built: run tools/build"))
        rows.append(
            ProbeRow(
                feature: "memfd_create", available: yesNo(memfd.ok, memfd.detail),
                use: choice.map { "arena on \($0.backing): one file, a read-only and a writable view" }
                    ?? (memfd.ok ? "arena on memfd" : "arena on shm_open or an unlinked temporary file")))
        rows.append(
            ProbeRow(
                feature: "MADV_GUARD_INSTALL on shmem", available: yesNo(guardShmem.ok, guardShmem.detail),
                use: guardMethod == "madvise"
                    ? "guard pages by madvise: no memory mapping per guard"
                    : "guard pages by mprotect: two memory mappings per object"))
        rows.append(
            ProbeRow(
                feature: "userfaultfd", available: yesNo(uffd.ok, uffd.detail),
                use: "not needed for guards or read-only views"))
        let wp = uffd.features.map { $0 & (1 << 12) != 0 } ?? false  // UFFD_FEATURE_WP_HUGETLBFS_SHMEM
        rows.append(
            ProbeRow(
                feature: "userfaultfd write-protect on shmem", available: yesNo(wp, uffd.ok ? nil : "no userfaultfd"),
                use: !snapshots
                    ? "not used by this build: stray writes trap on the read-only view"
                    : wp
                        ? "snapshots copy a page at its first write; forks put off their copy (fork=auto)"
                        : "absent: snapshots copy the live heap when taken (snapshot=copy), forks copy the heap (fork=copy)"))
        rows.append(
            ProbeRow(
                feature: "protection keys (pkey_alloc)", available: yesNo(pkeys.ok, pkeys.detail),
                use: "not needed: the read-only view is its own mapping, and on_error=continue moves a register per thread instead of a key"))
        let maps = Int(maxMaps ?? "") ?? 0
        rows.append(
            ProbeRow(
                feature: "vm.max_map_count", available: maxMaps ?? "unknown",
                use: guardMethod == "madvise"
                    ? "no limit on objects: madvise guards take no mapping"
                    : "about \(maps / 2) live and quarantined objects at most (two mappings each)"))
        rows.append(
            ProbeRow(
                feature: "llvm-symbolizer", available: llvm == nil ? "no" : "yes",
                use: llvm.map { "\($0): file:line in run and symbolize" } ?? "absent: addr2line instead"))
        rows.append(
            ProbeRow(
                feature: "addr2line", available: addr2line == nil ? "no" : "yes",
                use: addr2line.map {
                    llvm == nil
                        ? "\($0): file:line in run and symbolize"
                        : "\($0): fallback, unused while llvm-symbolizer is here"
                }
                    ?? (llvm == nil ? "absent: reports keep function+offset only" : "absent (not needed)")))
        let demangle = Locations.tool(["swift-demangle"])
        rows.append(
            ProbeRow(
                feature: "swift-demangle", available: demangle == nil ? "no" : "yes",
                use: demangle.map { "\($0): Swift names in reports" } ?? "absent: Swift names stay mangled"))
        let cc = ProcessInfo.processInfo.environment["CC"].flatMap(Locations.program) ?? Locations.program("cc")
        rows.append(
            ProbeRow(
                feature: "C compiler (cc)", available: cc == nil ? "no" : "yes",
                use: cc.map { "\($0): builds the demo" } ?? "absent: demo cannot build (tools/setup)"))
        let unwind = libunwindVersion()
        rows.append(
            ProbeRow(
                feature: "libunwind", available: unwind ?? "no",
                use: unwind == nil ? "missing: the library needs it (tools/setup)" : "stack traces in reports"))
        return rows
    }

    private static func yesNo(_ ok: Bool, _ detail: String?) -> String {
        ok ? "yes" + (detail.map { " (\($0))" } ?? "") : "no" + (detail.map { " (\($0))" } ?? "")
    }

    private static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

    // MARK: The library's own choice

    struct Choice {
        var backing: String
        var guardMethod: String
    }

    /// Runs /bin/true under the library with verbosity=1 and reads its start-up banner
    /// ("arena on memfd, guards by madvise, ...").
    static func libraryChoice(_ library: String) -> Choice? {
        guard
            let r = Subprocess.capture(
                "/bin/true", [], environment: ["LD_PRELOAD": library, "MIRRORGUARD_OPTIONS": "verbosity=1"])
        else { return nil }
        func word(after marker: String) -> String? {
            guard let range = r.stderr.range(of: marker) else { return nil }
            return r.stderr[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                .description
        }
        guard let backing = word(after: "arena on "), let method = word(after: "guards by ") else { return nil }
        return Choice(backing: backing, guardMethod: method)
    }

    /// Whether the library exports `name` (its name is in the file's dynamic string table).
    static func hasSymbol(_ library: String, _ name: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: library) else { return false }
        return data.range(of: Data((name + "\0").utf8)) != nil
    }

    // MARK: Kernel features

    private typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
    private typealias PkeyAlloc = @convention(c) (UInt32, UInt32) -> Int32
    private typealias PkeyFree = @convention(c) (Int32) -> Int32
    private typealias Syscall2 = @convention(c) (Int, Int, Int) -> Int  // long syscall(long, ...)
    /// int ioctl(int, unsigned long, ...), called with one pointer argument.
    private typealias IoctlPointer = @convention(c) (Int32, UInt, UnsafeMutableRawPointer) -> Int32

    private static func function<T>(_ name: String, _ type: T.Type) -> T? {
        guard let symbol = dlsym(nil, name) else { return nil }  // nil = RTLD_DEFAULT
        return unsafeBitCast(symbol, to: type)
    }

    /// A memfd, or the errno explaining why not.
    private static func memfd() -> (fd: Int32, error: String?) {
        guard let create = function("memfd_create", MemfdCreate.self) else { return (-1, "no memfd_create in libc") }
        let fd = create("mirrorguard-doctor", 1)  // MFD_CLOEXEC
        return fd >= 0 ? (fd, nil) : (-1, errnoText())
    }

    static func memfdWorks() -> (ok: Bool, detail: String?) {
        let m = memfd()
        if m.fd >= 0 { close(m.fd) }
        return (m.fd >= 0, m.error)
    }

    /// MADV_GUARD_INSTALL (102) on one page of a memfd mapped MAP_SHARED: Linux 6.13 added
    /// guards for private anonymous memory, later kernels for shared file memory, which is what
    /// the arena is.
    static func guardInstallOnShmem() -> (ok: Bool, detail: String?) {
        let m = memfd()
        guard m.fd >= 0 else { return (false, "no memfd: \(m.error ?? "")") }
        defer { close(m.fd) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard ftruncate(m.fd, off_t(page)) == 0 else { return (false, "ftruncate: \(errnoText())") }
        let addr = mmap(nil, page, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0)
        guard let addr, addr != MAP_FAILED else { return (false, "mmap: \(errnoText())") }
        defer { munmap(addr, page) }
        if madvise(addr, page, 102) == 0 {
            _ = madvise(addr, page, 103)  // MADV_GUARD_REMOVE
            return (true, nil)
        }
        return (false, errno == EINVAL ? "kernel too old for guards on shared memory" : errnoText())
    }

    /// Opens a userfaultfd and runs the UFFDIO_API handshake, which answers every feature the
    /// kernel offers. Unprivileged users may only get one for user-mode faults
    /// (vm.unprivileged_userfaultfd=0), which is tried second.
    static func userfaultfdFeatures() -> (ok: Bool, detail: String?, features: UInt64?) {
        #if arch(x86_64)
            let sysUserfaultfd = 323
        #elseif arch(arm64)
            let sysUserfaultfd = 282
        #else
            return (false, "unknown system call number here", nil)
        #endif
        guard let syscall = function("syscall", Syscall2.self), let ioctl = function("ioctl", IoctlPointer.self) else {
            return (false, "no syscall() in libc", nil)
        }
        let flags = Int(O_CLOEXEC | O_NONBLOCK)
        var fd = syscall(sysUserfaultfd, flags, 0)
        if fd < 0, errno == EPERM { fd = syscall(sysUserfaultfd, flags | 1, 0) }  // UFFD_USER_MODE_ONLY
        guard fd >= 0 else { return (false, errnoText(), nil) }
        defer { close(Int32(fd)) }
        // struct uffdio_api { __u64 api; __u64 features; __u64 ioctls; }; UFFDIO_API = _IOWR(0xAA, 0x3F, 24 bytes)
        var api: (UInt64, UInt64, UInt64) = (0xAA, 0, 0)
        let UFFDIO_API: UInt = 0xC018_AA3F
        let status = withUnsafeMutableBytes(of: &api) { ioctl(Int32(fd), UFFDIO_API, $0.baseAddress!) }
        guard status == 0 else { return (false, "UFFDIO_API: \(errnoText())", nil) }
        return (true, "features 0x\(String(api.1, radix: 16))", api.1)
    }

    static func protectionKeys() -> (ok: Bool, detail: String?) {
        guard let alloc = function("pkey_alloc", PkeyAlloc.self), let free = function("pkey_free", PkeyFree.self) else {
            return (false, "no pkey_alloc in libc")
        }
        let key = alloc(0, 0)
        guard key >= 0 else {
            return (false, errno == ENOSPC || errno == EINVAL ? "CPU or kernel without them" : errnoText())
        }
        _ = free(key)
        return (true, nil)
    }

    // MARK: libunwind

    /// The installed libunwind: dpkg's package version, else the versioned .so file's name.
    static func libunwindVersion() -> String? {
        if let dpkg = Locations.program("dpkg-query"),
            let r = Subprocess.capture(dpkg, ["-W", "-f", "${Version}", "libunwind8"]), r.ok, !r.stdout.isEmpty
        {
            return "libunwind8 " + r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for dir in [
            "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib",
        ] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            if let so = names.filter({ $0.hasPrefix("libunwind.so.") }).max(by: { $0.count < $1.count }) {
                return so
            }
        }
        return nil
    }
}
