// swift-tools-version: 6.1
//
// MirrorGuard: a guarded-memory debugging allocator for Linux.
//
// Targets
//   CShim               the async-signal-safe C core (arena, slots, faults, reports, options).
//   MirrorGuard         the typed Swift layer over CShim.
//   mirrorguard         the harness CLI (`mirrorguard run -- prog`).
//   SwiftFixture        a tiny Swift program the tests run in a child process.
//
// The preloadable library `.build/<config>/libmirrorguard.so` is not a SwiftPM product: SwiftPM
// links every dynamic product with swiftc, which makes it NEED libswiftCore. `tools/build`
// compiles Sources/CShim and Sources/MirrorGuardPreload with cc into a pure C library instead,
// and the tests check with readelf that it stays that way.
import PackageDescription

let package = Package(
    name: "MirrorGuard",
    products: [
        .library(name: "MirrorGuard", targets: ["MirrorGuard"]),
        .executable(name: "mirrorguard", targets: ["mirrorguard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        .target(
            name: "CShim",
            exclude: ["options.def"],
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("unwind"), .linkedLibrary("pthread")]
        ),
        .target(
            name: "MirrorGuard",
            dependencies: ["CShim", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .executableTarget(
            name: "mirrorguard",
            dependencies: ["CShim", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "SwiftFixture",
            dependencies: ["MirrorGuard"],
            path: "Tests/SwiftFixture"
        ),
        .testTarget(
            name: "MirrorGuardTests",
            dependencies: ["MirrorGuard", "CShim", .product(name: "SystemPackage", package: "swift-system")]
        ),
    ]
)
