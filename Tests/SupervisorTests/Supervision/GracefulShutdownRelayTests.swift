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

    /// A resource whose run waits on a gate that `endRun` (or a cancellation) opens; records what happened to it.
    struct Endable: Restartable {
        final class Gate: Sendable {
            private let state = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
            func wait() async {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let open = state.withLock { state in
                            if !state.open { state.waiter = continuation }
                            return state.open
                        }
                        if open { continuation.resume() }
                    }
                } onCancel: {
                    self.open()
                }
            }
            func open() {
                state.withLock { state in
                    state.open = true
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }

        struct Record: Sendable {
            var runTasks: [Int] = []
            var endRuns = 0
            var cancelledRuns = 0
            var stops = 0
        }

        final class Recorder: Sendable {
            let record = Mutex(Record())
            func withLock<R: Sendable>(_ body: (inout sending Record) -> sending R) -> R { record.withLock(body) }
        }

        let endsRunOnRequest: Bool
        let record = Recorder()
        /// Called in `start()`, before it returns: a shutdown requested there meets the run before it begins.
        let onStart: @Sendable () -> Void

        struct Ended: Error {}

        func start() async throws -> Gate {
            onStart()
            return Gate()
        }
        func run(_ gate: Gate) async throws {
            let task = withUnsafeCurrentTask { $0?.hashValue } ?? 0
            record.withLock { $0.runTasks.append(task) }
            await gate.wait()
            if Task.isCancelled { record.withLock { $0.cancelledRuns += 1 } }
            throw Ended()
        }
        func stop(_ gate: Gate) async { record.withLock { $0.stops += 1 } }
        func endRun(_ gate: Gate) {
            record.withLock { $0.endRuns += 1 }
            gate.open()
        }
    }

    @Test(
        "a resource that ends its run on request runs in the caller's task, ended there; others in a child task",
        arguments: [true, false])
    func endRunInsteadOfChildTask(endable: Bool) async throws {
        let policy = try RestartPolicy(backoff: .constant(.seconds(1)))
        let resource = Endable(endsRunOnRequest: endable, onStart: {})
        let supervisor = ResourceSupervisor(resource, name: "endable", policy: policy, logger: Self.quiet)
        try await testGracefulShutdown { trigger in
            async let shutdown: Void = {
                for _ in 0..<2_000 where resource.record.withLock({ $0.runTasks.isEmpty }) {
                    try? await Task.sleep(for: .milliseconds(1))
                }
                trigger.triggerGracefulShutdown()
            }()
            try await supervisor.run()
            await shutdown
            // The supervisor's caller: never cancelled by the shutdown.
            #expect(!Task.isCancelled)
            let caller = withUnsafeCurrentTask { $0?.hashValue } ?? -1
            let record = resource.record.withLock { $0 }
            #expect(record.runTasks.count == 1)
            #expect((record.runTasks.first == caller) == endable, "the run in the caller's task: \(endable)")
            #expect(record.endRuns == (endable ? 1 : 0))
            #expect(record.cancelledRuns == (endable ? 0 : 1))
            #expect(record.stops == 1)
        }
        #expect(supervisor.state.stopReason?.isRequested == true)
    }

    @Test("a graceful shutdown during the start: the run never begins, endRun is not called, the instance stops once")
    func shutdownDuringStart() async throws {
        let policy = try RestartPolicy(backoff: .constant(.seconds(1)))
        let trigger = Mutex<GracefulShutdownTestTrigger?>(nil)
        let resource = Endable(
            endsRunOnRequest: true, onStart: { trigger.withLock { $0 }?.triggerGracefulShutdown() })
        let supervisor = ResourceSupervisor(resource, name: "early", policy: policy, logger: Self.quiet)
        try await testGracefulShutdown { shutdownTrigger in
            trigger.withLock { $0 = shutdownTrigger }
            try await supervisor.run()
        }
        let record = resource.record.withLock { $0 }
        #expect(record.runTasks.isEmpty && record.endRuns == 0 && record.cancelledRuns == 0, "\(record)")
        #expect(record.stops == 1)
        #expect(supervisor.state.stopReason?.isRequested == true)
    }
}
