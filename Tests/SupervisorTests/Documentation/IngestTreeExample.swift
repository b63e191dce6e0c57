// The complete example of the DocC articles "Building a supervision tree" and "Restarting a Service"
// (Sources/Supervisor/Documentation.docc), compiled and run by BuildingASupervisionTreeTests. Keep them in step.
import Logging
import ServiceLifecycle
import Supervisor
import Synchronization
import UnixSignals

/// Stands in for a network: which ports are taken, and which streams are flowing.
final class FakeNetwork: Sendable {
    struct PortTaken: Error {}

    private let taken = Mutex<Set<Int>>([])
    /// Every stream a forwarder has carried, in order.
    let forwarded = Mutex<[String]>([])

    func take(_ port: Int) throws {
        try taken.withLock { taken in
            guard taken.insert(port).inserted else { throw PortTaken() }
        }
    }

    func release(_ port: Int) {
        _ = taken.withLock { $0.remove(port) }
    }
}

/// The listener: binds its port, then accepts until cancelled.
struct IngestListener: Restartable {
    let network: FakeNetwork
    let port: Int

    func start() async throws -> Int {
        try network.take(port)
        return port
    }

    func run(_ port: Int) async throws {
        try await Task.sleep(for: .seconds(86_400))
    }

    func stop(_ port: Int) async {
        network.release(port)
    }
}

/// One stream's forwarder: useless without the listener, so it sits after it.
struct StreamForwarder: Restartable {
    let network: FakeNetwork
    let stream: String

    func start() async throws -> String {
        network.forwarded.withLock { $0.append(stream) }
        return stream
    }

    func run(_ stream: String) async throws {
        try await Task.sleep(for: .seconds(86_400))
    }

    func stop(_ stream: String) async {}
}

/// A metrics endpoint written as a swift-service-lifecycle `Service`.
struct MetricsEndpoint: Service {
    let runs = Runs()

    final class Runs: Sendable {
        let count = Atomic(0)
    }

    func run() async throws {
        runs.count.add(1, ordering: .relaxed)
        try await Task.sleep(for: .seconds(86_400))
    }
}

/// The tree: the listener first, then the metrics endpoint and a group of per-stream forwarders that come and go.
func makeIngestTree(network: FakeNetwork, metrics: MetricsEndpoint, logger: Logger) throws -> SupervisorGroup {
    let listenerPolicy = try RestartPolicy(
        backoff: .exponential(initial: .milliseconds(100), maximum: .seconds(10)).jitter(.full)
    )
    return try SupervisorGroup(
        name: "ingest",
        strategy: .restForOne,
        intensity: RestartIntensity(maxRestarts: 20, within: .seconds(60)),
        escalation: .degrade(probeInterval: .seconds(30)),
        children: [
            .resource(IngestListener(network: network, port: 9000), name: "listener", policy: listenerPolicy),
            .service(metrics, name: "metrics"),
            .group(name: "streams", strategy: .oneForOne, maxChildren: 1_000, children: []),
        ],
        logger: logger
    )
}

/// A stream arrived: its forwarder joins the streams group, kept until it is removed. `false` when the streams
/// group is not running (the tree is restarting it).
func streamArrived(_ stream: String, in tree: SupervisorGroup, network: FakeNetwork) throws -> Bool {
    guard let streams = tree.group(at: "streams") else { return false }
    try streams.add(.resource(StreamForwarder(network: network, stream: stream), name: stream, restart: .transient))
    return true
}

/// The stream ended: its forwarder is stopped and leaves.
func streamEnded(_ stream: String, in tree: SupervisorGroup) {
    tree.group(at: "streams")?.remove(named: stream)
}

/// A metrics endpoint supervised alone, in a ServiceGroup: restarted with backoff whenever its `run()` throws or
/// returns, stopped by the group's graceful shutdown.
func runSupervisedMetrics(_ metrics: MetricsEndpoint, logger: Logger) async throws {
    let supervisor = ResourceSupervisor(
        ServiceResource(metrics),
        name: "metrics",
        policy: try RestartPolicy(backoff: .exponential(initial: .milliseconds(200), maximum: .seconds(10))),
        logger: logger
    )
    let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm], logger: logger)
    try await group.run()
}
