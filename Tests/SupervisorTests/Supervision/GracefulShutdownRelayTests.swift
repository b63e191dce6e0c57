import Logging
@_spi(TestKit) import ServiceLifecycle
import ServiceLifecycleTestKit
import Supervisor
import Synchronization
import Testing

@testable import Supervisor

/// Graceful shutdown for many supervisors at once, through the relay (one waiting task per shutdown manager).
@Suite("GracefulShutdownRelay", .serialized, .timeLimit(.minutes(1)))
struct GracefulShutdownRelayTests {
    /// Starts once and then waits for cancellation; counts how its runs ended.
    struct Waiting: Restartable {
        let cancelled: Counter

        func start() async throws -> Int { 0 }
        func run(_ instance: Int) async throws {
            do {
                try await Task.sleep(for: .seconds(3_600))
            } catch {
                cancelled.add()
                throw error
            }
        }
        func stop(_ instance: Int) async {}
    }

    final class Counter: Sendable {
        private let value = Atomic(0)
        func add() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    static let quiet = Logger(label: "relay", factory: { _ in SwiftLogNoOpLogHandler() })

    /// What the relay relies on in swift-service-lifecycle's SPI, which a release may change: the task-local manager
    /// is set for a `ServiceGroup`'s services and inherited by tasks made under them, it is one object per group,
    /// and it says when a graceful shutdown began. Fails here, by name, rather than as supervisors that no longer
    /// stop gracefully.
    @Test("the SPI the relay reads: a ServiceGroup's service task sees one manager, inherited, that reports shutdown")
    func spiShape() async throws {
        final class Probe: Service {
            let seen = Mutex<[ObjectIdentifier?]>([])
            let shuttingDown = Mutex<[Bool]>([])
            func run() async throws {
                seen.withLock { $0.append(TaskLocals.gracefulShutdownManager.map(ObjectIdentifier.init)) }
                let inherited = await Task { TaskLocals.gracefulShutdownManager.map(ObjectIdentifier.init) }.value
                seen.withLock { $0.append(inherited) }
                try? await gracefulShutdown()
                shuttingDown.withLock { $0.append(Task.isShuttingDownGracefully) }
            }
        }
        let probe = Probe()
        let group = ServiceGroup(services: [probe], logger: Self.quiet)
        let running = Task { try await group.run() }
        while probe.seen.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(1)) }
        await group.triggerGracefulShutdown()
        try await running.value
        let seen = probe.seen.withLock { $0 }
        #expect(seen.count == 2 && seen[0] != nil && seen[0] == seen[1])
        #expect(probe.shuttingDown.withLock { $0 } == [true])
        #expect(TaskLocals.gracefulShutdownManager == nil)  // outside any group: none
    }

    @Test("one graceful shutdown stops 1,000 running supervisors; a latecomer stops at once; nothing is left behind")
    func manySupervisorsOneShutdown() async throws {
        let cancelled = Counter()
        let policy = try RestartPolicy(backoff: .constant(.seconds(1)))
        let supervisors = (0..<1_000).map { index in
            let resource = Waiting(cancelled: cancelled)
            return ResourceSupervisor(resource, name: "relay-\(index)", policy: policy, logger: Self.quiet)
        }
        try await testGracefulShutdown { trigger in
            let manager = try #require(TaskLocals.gracefulShutdownManager)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for supervisor in supervisors { group.addTask { try await supervisor.run() } }
                for _ in 0..<2_000 where !supervisors.allSatisfy({ $0.state.isReady }) {
                    try await Task.sleep(for: .milliseconds(5))
                }
                #expect(supervisors.allSatisfy { $0.state.isReady })
                #expect(GracefulShutdownRelay.shared.memberCount(of: manager) == 1_000)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                // After the shutdown: a supervisor that joins now stops before it ever starts.
                let late = ResourceSupervisor(
                    Waiting(cancelled: cancelled), name: "late", policy: policy, logger: Self.quiet)
                try await late.run()
                #expect(late.state.stopReason?.isRequested == true)
            }
            #expect(GracefulShutdownRelay.shared.memberCount(of: manager) == 0)
        }
        #expect(cancelled.count == 1_000)
        #expect(supervisors.allSatisfy { $0.state.stopReason?.isRequested == true })
    }
}
