// swift-tools-version: 6.1
// Benchmarks of the Supervisor package, kept apart so the library does not depend on the benchmark harness.
// Run them with `make bench` from the repository root (see Docs/benchmarks.md).
import PackageDescription

let package = Package(
    name: "SupervisorBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Supervisor", path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SupervisorBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Supervisor", package: "Supervisor"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/SupervisorBenchmarks",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Brooker's "Exponential Backoff And Jitter" contention model, driven by the library's backoffs
        // (see Docs/contention-simulation.md).
        .executableTarget(
            name: "contention-simulation",
            dependencies: [.product(name: "Supervisor", package: "Supervisor")],
            path: "Sources/contention-simulation",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        ),
        // The first delays of every backoff kind, and with `--csv` the percentiles behind Docs/policies.md's charts
        // (plot_backoff.py draws them).
        .executableTarget(
            name: "backoff-table",
            dependencies: [
                .product(name: "Supervisor", package: "Supervisor"),
                .product(name: "SRTAdapter", package: "Supervisor"),
            ],
            path: "Sources/backoff-table",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // 100,000 parked supervisors outside the harness (see Docs/benchmarks.md).
        .executableTarget(
            name: "parked-supervisors",
            dependencies: [
                .product(name: "Supervisor", package: "Supervisor"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/parked-supervisors",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // 10,000 children of one supervision group parked, against 10,000 lone supervisors (Docs/benchmarks.md).
        .executableTarget(
            name: "group-memory",
            dependencies: [
                .product(name: "Supervisor", package: "Supervisor"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/group-memory",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // A one-for-all group of 1,000 children: one failure until all run again (Docs/benchmarks.md).
        .executableTarget(
            name: "group-restart",
            dependencies: [
                .product(name: "Supervisor", package: "Supervisor"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/group-restart",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // The library's receiver in the SRT throughput comparison (Benchmarks/srt-throughput, Docs/benchmarks.md).
        .executableTarget(
            name: "srt-drain",
            dependencies: [.product(name: "SRTAdapter", package: "Supervisor")],
            path: "Sources/srt-drain",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // What the quick liveness check costs 100 idle listeners (Docs/benchmarks.md).
        .executableTarget(
            name: "idle-listeners",
            dependencies: [
                .product(name: "SRTAdapter", package: "Supervisor"),
                .product(name: "Supervisor", package: "Supervisor"),
            ],
            path: "Sources/idle-listeners",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // How long a deliberate restart keeps new callers waiting (Docs/benchmarks.md).
        .executableTarget(
            name: "srt-restart",
            dependencies: [
                .product(name: "SRTAdapter", package: "Supervisor"),
                .product(name: "Supervisor", package: "Supervisor"),
            ],
            path: "Sources/srt-restart",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // 1,000 callers into one SRTServer, and its accept rate against a C accept loop (Benchmarks/srt-scale/run.sh).
        .executableTarget(
            name: "srt-scale-server",
            dependencies: [
                .product(name: "SRTAdapter", package: "Supervisor"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/srt-scale-server",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
