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
