// swift-tools-version: 6.1
import PackageDescription

// Upcoming features that swift-log's own package enables; every target uses them.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Supervisor",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Supervisor", targets: ["Supervisor"]),
        .library(name: "SupervisorTestKit", targets: ["SupervisorTestKit"]),
        .library(name: "SRTAdapter", targets: ["SRTAdapter"]),
        .library(name: "NIOAdapter", targets: ["NIOAdapter"]),
        .library(name: "NetworkMonitor", targets: ["NetworkMonitor"]),
        .executable(name: "srt-relay", targets: ["srt-relay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // Pinned to 2.13.x: GracefulShutdownRelay reads the task-local shutdown manager, which the package exposes only
        // as SPI (for its test kit), since no public API tells whether a graceful shutdown can reach a task. The
        // public way, a handler per supervisor, costs ~100 MiB more for 100,000 parked supervisors and makes their
        // ending quadratic (Docs/benchmarks.md), so a minor release that reshaped the SPI must not reach a user's
        // build unseen; GracefulShutdownRelayTests.spiShape fails when it no longer behaves as relied on.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", .upToNextMinor(from: "2.13.0")),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/pointfreeco/swift-clocks.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The transport-agnostic core: backoff, classification, supervision, retry.
        .target(
            name: "Supervisor",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // A heap of backoff deadlines; swift-collections already comes with swift-service-lifecycle.
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Scripted resources, seeded generators and virtual-time helpers for users' tests.
        .target(
            name: "SupervisorTestKit",
            dependencies: [
                "Supervisor",
                .product(name: "Clocks", package: "swift-clocks"),
            ],
            swiftSettings: swiftSettings
        ),
        // libsrt 1.5.1 as Debian ships it; C quirks live in shim.h.
        .systemLibrary(
            name: "CSRT",
            path: "Adapters/CSRT",
            pkgConfig: "srt",
            providers: [.apt(["libsrt-openssl-dev"])]
        ),
        .target(
            name: "SRTAdapter",
            dependencies: [
                "Supervisor",
                "CSRT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Adapters/SRTAdapter",
            swiftSettings: swiftSettings
        ),
        // SwiftNIO servers and datagram channels, supervised: rebinds on transient bind errors and unexpected closes.
        .target(
            name: "NIOAdapter",
            dependencies: [
                "Supervisor",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Adapters/NIOAdapter",
            swiftSettings: swiftSettings
        ),
        // rtnetlink for the network-change monitor (Linux; empty elsewhere).
        .systemLibrary(name: "CNetlink", path: "Adapters/CNetlink"),
        // Wakes supervisors when links, addresses or routes come back.
        .target(
            name: "NetworkMonitor",
            dependencies: [
                "Supervisor",
                "CNetlink",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Adapters/NetworkMonitor",
            swiftSettings: swiftSettings
        ),
        // The main job: records or relays SRT publishers, supervised; thin over SRTAdapter.
        .executableTarget(
            name: "srt-relay",
            dependencies: [
                "Supervisor",
                "SRTAdapter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SupervisorTests",
            dependencies: [
                "Supervisor",
                "SupervisorTestKit",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NIOAdapterTests",
            dependencies: [
                "NIOAdapter",
                "Supervisor",
                "SupervisorTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the SRT and relay suites need from the machine (tools, root), skipped without it but failing under CI.
        .target(
            name: "SRTTestSupport",
            path: "Tests/SRTTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SRTAdapterTests",
            dependencies: [
                "SRTAdapter",
                "SRTTestSupport",
                "Supervisor",
                "CSRT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "NetworkMonitor",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Acceptance of srt-relay: the built binary against srt-live-transmit, plus its parsing helpers; the
        // adapter's caller reads reject reasons, which srt-live-transmit does not print.
        .testTarget(
            name: "SRTRelayTests",
            dependencies: ["srt-relay", "SRTAdapter", "SRTTestSupport"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
