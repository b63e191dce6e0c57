import Clocks
import Foundation
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

/// What a user relies on: only the supervisor's own cancellation ends it, no restart loop keeps a thread, `stop(_:)`
/// runs where clean-up works and within a bound, and nothing starts once stopping began.
@Suite("Supervisor semantics", .timeLimit(.minutes(1)))
struct SupervisorSemanticsTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A resource whose starts follow `outcomes` (an error to throw, or nil to start and serve until cancelled),
    /// counting calls; past the list every start succeeds.
    final class Steps: Restartable, @unchecked Sendable {
        private let outcomes: [(any Error)?]
        private let calls = Mutex(0)
        private let stopBody: @Sendable (Int) async -> Void

        init(_ outcomes: [(any Error)?], stop: @escaping @Sendable (Int) async -> Void = { _ in }) {
            self.outcomes = outcomes
            self.stopBody = stop
        }

        var startCalls: Int { calls.withLock { $0 } }

        func start() async throws -> Int {
            let call = calls.withLock { calls -> Int in
                calls += 1
                return calls
            }
            if call <= outcomes.count, let error = outcomes[call - 1] { throw error }
            return call
        }

        func run(_ instance: Int) async throws {
            try await Task.sleep(for: .seconds(3_600))
        }

        func stop(_ instance: Int) async { await stopBody(instance) }
    }

    @Test("a CancellationError from the resource while the supervisor is not cancelled is a failure: it restarts")
    func strayCancellationRestarts() async throws {
        let clock = TestClock()
        let resource = Steps([CancellationError(), CancellationError()])
        let supervisor = ResourceSupervisor(
            resource, name: "stray", policy: try RestartPolicy(backoff: .constant(.seconds(1))), clock: clock,
            logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        for _ in 0..<2 {
            let failed = await recorder.next(advancing: clock) { if case .failed = $0 { true } else { false } }
            guard case .failed(let failure)? = failed else {
                Issue.record("no failure: \(String(describing: failed))")
                return
            }
            #expect(failure.error is CancellationError && failure.decision == .restart)
            #expect(await recorder.next(advancing: clock) { if case .backingOff = $0 { true } else { false } } != nil)
            await clock.advance(by: .seconds(1))
        }
        #expect(await recorder.next(advancing: clock) { if case .ready = $0 { true } else { false } } != nil)
        #expect(resource.startCalls == 3)
        task.cancel()
        try await task.value
        #expect(supervisor.state.stopReason?.isRequested == true)
    }

    @Test("a custom classifier without .default keeps the rule: a stray cancellation restarts, its own ends it")
    func customClassifierKeepsTheRule() async throws {
        let clock = TestClock()
        // Every error the classifier knows gives up; CancellationError is not among them, so it restarts.
        let classifier = FailureClassifier.firstMatch([.type(Fatal.self, .giveUp)])
        let resource = Steps([CancellationError()])
        let supervisor = ResourceSupervisor(
            resource, name: "custom",
            policy: try RestartPolicy(backoff: .constant(.seconds(1)), classifier: classifier), clock: clock,
            logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        #expect(await recorder.next(advancing: clock) { if case .backingOff = $0 { true } else { false } } != nil)
        await clock.advance(by: .seconds(1))
        #expect(await recorder.next(advancing: clock) { if case .ready = $0 { true } else { false } } != nil)
        #expect(resource.startCalls == 2)

        // Its own cancellation ends supervision as requested even under a classifier that gives up on everything:
        // the resource's error during a shutdown never reaches the classifier.
        let everything = ResourceSupervisor(
            RestartableResource(
                start: { 1 },
                run: { _ in
                    do { try await Task.sleep(for: .seconds(3_600)) } catch { throw Fatal() }
                }),
            name: "gives-up-on-everything",
            policy: try RestartPolicy(classifier: .always(.giveUp)),
            logger: Self.quiet)
        let everythingRecorder = EventRecorder(everything)
        let other = Task { try await everything.run() }
        #expect(await everythingRecorder.next { if case .ready = $0 { true } else { false } } != nil)
        other.cancel()
        try await other.value  // returns: no SupervisorError
        #expect(everything.state.stopReason?.isRequested == true)
        task.cancel()
        try await task.value
    }

    @Test("stop(_:) runs in a task that is not cancelled, so its own awaits work after a cancellation")
    func stopRunsUncancelled() async throws {
        let seen = Mutex<(cancelled: Bool, sleptFully: Bool)?>(nil)
        let resource = Steps(
            [],
            stop: { _ in
                let cancelled = Task.isCancelled
                let slept = (try? await Task.sleep(for: .milliseconds(1))) != nil
                seen.withLock { $0 = (cancelled, slept) }
            })
        for policy in [try RestartPolicy(), try RestartPolicy(stopTimeout: nil)] {
            seen.withLock { $0 = nil }
            let supervisor = ResourceSupervisor(resource, name: "clean-up", policy: policy, logger: Self.quiet)
            let recorder = EventRecorder(supervisor)
            let task = Task { try await supervisor.run() }
            #expect(await recorder.next { if case .ready = $0 { true } else { false } } != nil)
            task.cancel()
            try await task.value
            let observed = seen.withLock { $0 }
            #expect(observed?.cancelled == false && observed?.sleptFully == true, "\(String(describing: observed))")
        }
    }

    @Test("a stop that outlasts the stop timeout is reported, and the supervisor moves on to the next start")
    func stopTimeout() async throws {
        let clock = TestClock()
        let release = AsyncStream.makeStream(of: Void.self)
        let stopBegan = AsyncStream.makeStream(of: Void.self)
        let resource = ScriptedStopResource(clock: clock, hangingStop: release.stream, began: stopBegan.continuation)
        let supervisor = ResourceSupervisor(
            resource, name: "slow-stop",
            policy: try RestartPolicy(
                backoff: .constant(.seconds(1)), timerTolerance: .exact, stopTimeout: .seconds(5)),
            clock: clock, logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        #expect(await recorder.next(advancing: clock) { if case .ready = $0 { true } else { false } } != nil)
        await clock.advance(by: .seconds(1))  // run fails; stop hangs
        for await _ in stopBegan.stream { break }
        await clock.advance(by: .seconds(5))
        let timedOut = await recorder.next(advancing: clock) {
            if case .stopTimedOut = $0 { true } else { false }
        }
        guard case .stopTimedOut(let after)? = timedOut else {
            Issue.record("no stop timeout: \(String(describing: timedOut))")
            return
        }
        #expect(after == .seconds(5))
        // Moved on: the next start came while the first stop is still running.
        #expect(await recorder.next(advancing: clock) { if case .backingOff = $0 { true } else { false } } != nil)
        await clock.advance(by: .seconds(1))
        #expect(await recorder.next(advancing: clock) { if case .ready = $0 { true } else { false } } != nil)
        #expect(resource.startCalls == 2 && resource.stopsFinished == 0)
        release.continuation.finish()
        task.cancel()
        try await task.value
    }

    @Test("under a graceful shutdown, no start() once the shutdown was triggered, and no run of a late instance")
    func noStartAfterGracefulShutdown() async throws {
        for _ in 0..<20 {
            try await testGracefulShutdown { (trigger: GracefulShutdownTestTrigger) async throws in
                let resource = TriggeringResource(trigger: trigger)
                let supervisor = ResourceSupervisor(
                    resource, name: "graceful",
                    policy: try RestartPolicy(backoff: .constant(.zero), minimumRestartDelay: .zero),
                    logger: Self.quiet)
                try await supervisor.run()
                let (starts, runs, triggeredAt) = resource.counts
                // The second start triggered the shutdown: nothing started after it, and its instance never ran.
                #expect(triggeredAt == 2 && starts == 2 && runs == 1, "starts \(starts), runs \(runs)")
                #expect(supervisor.state.stopReason?.isRequested == true)
            }
        }
    }

    @Test("the event buffer is bounded by default: a stalled subscriber loses the oldest, never the last event")
    func boundedEventBuffer() async throws {
        let clock = TestClock()
        let count = ResourceSupervisor<ScriptedResource>.eventBufferLimit * 2
        let script: [ScriptedResource.Step] =
            Array(repeating: .failStart(Transient()), count: count) + [
                .run(for: .seconds(1), then: .fail(ClosedByUs()))
            ]
        let resource = ScriptedResource(clock: clock, script: script)
        let supervisor = ResourceSupervisor(
            resource, name: "chatty",
            policy: try RestartPolicy(backoff: .constant(.zero), minimumRestartDelay: .zero), clock: clock,
            logger: Self.quiet)
        let stalled = supervisor.events()  // never read until the end
        let watcher = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        #expect(await watcher.next(advancing: clock) { if case .ready = $0 { true } else { false } } != nil)
        await clock.advance(by: .seconds(1))
        try await task.value
        var received: [SupervisorEvent] = []
        for await event in stalled { received.append(event) }
        #expect(received.count == ResourceSupervisor<ScriptedResource>.eventBufferLimit)
        guard case .stopped(.stopDecision)? = received.last else {
            Issue.record("last event \(String(describing: received.last))")
            return
        }
    }
}

/// Ready at once; run fails after a second on `clock`; the first stop hangs until `hangingStop` ends.
private final class ScriptedStopResource: Restartable, @unchecked Sendable {
    let clock: TestClock<Duration>
    let hangingStop: AsyncStream<Void>
    let began: AsyncStream<Void>.Continuation
    private let finished = Mutex(0)
    private let starts = Mutex(0)

    init(clock: TestClock<Duration>, hangingStop: AsyncStream<Void>, began: AsyncStream<Void>.Continuation) {
        self.clock = clock
        self.hangingStop = hangingStop
        self.began = began
    }

    var startCalls: Int { starts.withLock { $0 } }
    var stopsFinished: Int { finished.withLock { $0 } }

    func start() async throws -> Int {
        starts.withLock { starts -> Int in
            starts += 1
            return starts
        }
    }

    func run(_ instance: Int) async throws {
        if instance == 1 { try await clock.sleep(for: .seconds(1)) } else { try await Task.sleep(for: .seconds(3_600)) }
        throw Transient()
    }

    func stop(_ instance: Int) async {
        guard instance == 1 else { return }
        began.yield()
        for await _ in hangingStop {}
        finished.withLock { $0 += 1 }
    }
}

/// Start 1 succeeds and its run fails at once; start 2 triggers the graceful shutdown, then succeeds.
private final class TriggeringResource: Restartable, @unchecked Sendable {
    let trigger: GracefulShutdownTestTrigger
    private let state = Mutex((starts: 0, runs: 0, triggeredAt: 0))

    init(trigger: GracefulShutdownTestTrigger) {
        self.trigger = trigger
    }

    var counts: (starts: Int, runs: Int, triggeredAt: Int) { state.withLock { $0 } }

    func start() async throws -> Int {
        let call = state.withLock { state -> Int in
            state.starts += 1
            return state.starts
        }
        if call == 2 {
            trigger.triggerGracefulShutdown()
            state.withLock { $0.triggeredAt = call }
        }
        return call
    }

    func run(_ instance: Int) async throws {
        state.withLock { $0.runs += 1 }
        if instance == 1 { throw Transient() }
        try await Task.sleep(for: .seconds(3_600))
    }

    func stop(_ instance: Int) async {}
}
