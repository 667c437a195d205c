// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "blockvault",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "blockvault", targets: ["blockvault"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Thin module maps over the system C libraries; their types never leave the Swift wrappers.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        // Header only: a wrapper for a Linux system call glibc does not wrap (openat2).
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        .target(name: "Chunker", dependencies: ["COpenSSL"]),
        .target(name: "Store", dependencies: ["Chunker", "CZstd", "CSQLite", "CLinux"]),
        .target(name: "Replication", dependencies: ["Store"]),
        .executableTarget(name: "blockvault", dependencies: [
            "Replication", "Store", "Chunker",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "blockvault-primitives-bench", dependencies: ["Chunker", "Store"],
                          path: "Benchmarks/PrimitivesBench"),

        .target(name: "TestSupport", dependencies: ["Chunker"], path: "Tests/TestSupport"),
        .testTarget(name: "ChunkerTests", dependencies: ["Chunker", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"]),
        .testTarget(name: "ReplicationTests", dependencies: ["Replication", "Store", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport"]),
    ]
)

// libFuzzer targets (Tests/Fuzz), only when BLOCKVAULT_FUZZ=1: their entry point comes from libFuzzer,
// so they link only with --sanitize=fuzzer, which `scripts/faults.py` passes (in .build/fuzz; docs/RELIABILITY.md).
if Context.environment["BLOCKVAULT_FUZZ"] == "1" {
    for name in ["FuzzFrame", "FuzzMessage", "FuzzVersions", "FuzzPackFooter", "FuzzPathRules"] {
        package.targets.append(.executableTarget(name: name, dependencies: ["Replication", "Store"],
                                                 path: "Tests/Fuzz/\(name)",
                                                 swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    }
}
