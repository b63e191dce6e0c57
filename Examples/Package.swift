// swift-tools-version: 6.1
// Three small programs to copy from, each a supervised resource in under 100 lines. `make test` builds them; run
// one with `swift run <name>` from this directory (see README.md).
import PackageDescription

let package = Package(
    name: "SupervisorExamples",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Supervisor", path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", .upToNextMinor(from: "2.13.0")),
    ],
    targets: [
        // A plain POSIX UDP socket, written against the core alone.
        .executableTarget(
            name: "udp-receiver",
            dependencies: [
                .product(name: "Supervisor", package: "Supervisor"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A SwiftNIO TCP echo server through NIOAdapter.
        .executableTarget(
            name: "nio-echo-server",
            dependencies: [
                .product(name: "Supervisor", package: "Supervisor"),
                .product(name: "NIOAdapter", package: "Supervisor"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // An SRT listener that keeps accepting through receive-thread deaths, with a reader per connection.
        .executableTarget(
            name: "srt-ingest",
            dependencies: [
                .product(name: "SRTAdapter", package: "Supervisor"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
