import Logging
import ServiceLifecycle
import Supervisor
import Synchronization
import Testing

@Suite("The DocC articles' supervision tree")
struct BuildingASupervisionTreeTests {
    static let quiet = Logger(label: "example", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Waits up to 10 s for `condition`.
    static func eventually(_ what: String, _ condition: () -> Bool) async {
        for _ in 0..<10_000 {
            if condition() { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test("the ingest tree starts in order, takes streams, restarts the rest when the listener fails, and stops")
    func ingestTree() async throws {
        let network = FakeNetwork()
        let metrics = MetricsEndpoint()
        let tree = try makeIngestTree(network: network, metrics: metrics, logger: Self.quiet)
        let services = ServiceGroup(services: [tree], logger: Self.quiet)
        let run = Task { try await services.run() }
        await Self.eventually("the tree ready") { tree.state.isReady }
        #expect(try streamArrived("live.1", in: tree, network: network))
        #expect(try streamArrived("live.2", in: tree, network: network))
        let expected = """
            ingest (rest for one): ready
            ├─ listener (permanent): running, ready
            ├─ metrics (permanent): running, ready
            └─ streams (one for one): ready
               ├─ live.1 (transient): running, ready
               └─ live.2 (transient): running, ready
            """
        // Ready once the group has heard each start return, a moment after the forwarder's start ran.
        await Self.eventually("both streams ready") { "\(tree.snapshot())" == expected }
        #expect("\(tree.snapshot())" == expected)
        #expect(network.forwarded.withLock { $0 } == ["live.1", "live.2"])
        streamEnded("live.1", in: tree)
        await Self.eventually("live.1 gone") { tree.group(at: "streams")?.snapshot().children.count == 1 }
        await services.triggerGracefulShutdown()
        try await run.value
        // Every port released: the listener was stopped.
        #expect(throws: Never.self) { try network.take(9000) }
        #expect(metrics.runs.count.load(ordering: .relaxed) == 1)
    }

    @Test("a Service supervised alone is restarted when its run() ends, and stops with its ServiceGroup")
    func supervisedService() async throws {
        struct Flaky: Service {
            let runs = MetricsEndpoint.Runs()
            func run() async throws {
                // The first two runs fail at once; the third serves until cancelled.
                if runs.count.add(1, ordering: .relaxed).newValue < 3 { throw CancellationError() }
                try await Task.sleep(for: .seconds(86_400))
            }
        }
        let flaky = Flaky()
        let supervisor = ResourceSupervisor(
            ServiceResource(flaky), name: "flaky",
            policy: try RestartPolicy(backoff: .constant(.milliseconds(1))), logger: Self.quiet)
        let services = ServiceGroup(services: [supervisor], logger: Self.quiet)
        let run = Task { try await services.run() }
        await Self.eventually("the third run") { flaky.runs.count.load(ordering: .relaxed) == 3 }
        await Self.eventually("ready") { supervisor.state.isReady }
        await services.triggerGracefulShutdown()
        try await run.value
        #expect("\(supervisor.state)" == "stopped: shutdown requested")
    }
}
