import Clocks
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

// What an adversarial review tried against the supervisor: each test states what the documentation promises.

/// Every event a supervisor publishes, collected by a task of its own (unbounded), for order checks.
final class EventLog: Sendable {
    let events = Mutex<[SupervisorEvent]>([])

    static func of<R>(_ supervisor: ResourceSupervisor<R>) -> EventLog {
        let log = EventLog()
        let stream = supervisor.events(bufferingPolicy: .unbounded)
        Task { for await event in stream { log.events.withLock { $0.append(event) } } }
        return log
    }

    var all: [SupervisorEvent] { events.withLock { $0 } }
    var kinds: [String] { all.map(\.reviewKind) }

    /// Waits (at most 5 s of real time), calling `nudge` between looks, until `predicate` holds for the events.
    func wait(
        nudge: @Sendable () async -> Void = {},
        until predicate: ([SupervisorEvent]) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if predicate(all) { return true }
            await nudge()
            try? await Task.sleep(for: .milliseconds(1))
        }
        return predicate(all)
    }

    func count(_ kind: String) -> Int { kinds.filter { $0 == kind }.count }
}

extension SupervisorEvent {
    var reviewKind: String {
        switch self {
        case .starting: "starting"
        case .ready: "ready"
        case .failed: "failed"
        case .backingOff: "backingOff"
        case .waitingForBudget: "waitingForBudget"
        case .degraded: "degraded"
        case .recovered: "recovered"
        case .stopTimedOut: "stopTimedOut"
        case .stopped: "stopped"
        }
    }

    var reviewFailure: SupervisorFailure? {
        if case .failed(let failure) = self { failure } else { nil }
    }

    var reviewDelay: Duration? {
        if case .backingOff(let delay, _, _) = self { delay } else { nil }
    }
}

final class ReviewCounter: Sendable {
    let value = Mutex(0)
    func next() -> Int {
        value.withLock {
            $0 += 1
            return $0
        }
    }
    var current: Int { value.withLock { $0 } }
}

final class ReviewFlag: Sendable {
    let value = Mutex<Bool?>(nil)
}

@Suite("Supervisor under attack", .timeLimit(.minutes(1)))
struct SupervisorAttackTests {
    static let quiet = Logger(label: "review", factory: { _ in SwiftLogNoOpLogHandler() })

    // MARK: - a run's uptime ends with the run, not with its stop

    @Test("uptime is counted from ready to the end of run(_:), not to the end of stop(_:)")
    func uptimeExcludesStop() async throws {
        let clock = TestClock()
        let starts = ReviewCounter()
        // Ready at once, dies at once; stop takes 2 s on the clock (until 2 s after its start).
        let resource = RestartableResource<TestClock<Duration>.Instant>(
            start: {
                _ = starts.next()
                return clock.now
            },
            run: { _ in throw Transient() },
            stop: { startedAt in try? await clock.sleep(until: startedAt.advanced(by: .seconds(2))) }
        )
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)), stableUptime: .seconds(1), maxAttempts: 2, timerTolerance: .exact,
            stopTimeout: nil)
        let supervisor = ResourceSupervisor(
            resource, name: "slow-stop", policy: policy, clock: clock, logger: Self.quiet)
        let log = EventLog.of(supervisor)
        let task = Task { try await supervisor.run() }
        let nudge: @Sendable () async -> Void = { await clock.advance(by: .zero) }

        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "ready" } })
        await clock.advance(by: .seconds(2))  // the first stop ends
        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "backingOff" } })
        let first = try #require(log.all.compactMap(\.reviewFailure).first)
        // The run ended the instant it became ready.
        #expect(first.uptime == .zero, "uptime reported \(String(describing: first.uptime)): it includes the stop")

        await clock.advance(by: .seconds(1))
        #expect(await log.wait(nudge: nudge) { events in events.filter { $0.reviewKind == "ready" }.count == 2 })
        await clock.advance(by: .seconds(2))  // the second stop ends
        #expect(await log.wait(nudge: nudge) { $0.compactMap(\.reviewFailure).count == 2 })
        let second = try #require(log.all.compactMap(\.reviewFailure).last)
        // Two starts that both died at once: maxAttempts 2 gives up.
        #expect(second.failures == 2, "failures \(second.failures): the streak was forgotten")
        task.cancel()
        do {
            try await task.value
            Issue.record("run() returned (cancelled) instead of giving up after maxAttempts; starts \(starts.current)")
        } catch {}
    }

    // MARK: - no recovered for a run that ended during its stop

    @Test("no recovered for a degraded run that ended before the stable uptime, even if its stop outlasts it")
    func noRecoveredDuringStop() async throws {
        let clock = TestClock()
        let starts = ReviewCounter()
        let resource = RestartableResource<TestClock<Duration>.Instant>(
            start: {
                if starts.next() == 1 { throw Transient() }
                return clock.now
            },
            run: { readyAt in
                try await clock.sleep(until: readyAt.advanced(by: .seconds(9)))  // up 9 s: not stable (10 s)
                throw Transient()
            },
            stop: { readyAt in try? await clock.sleep(until: readyAt.advanced(by: .seconds(11))) }
        )
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 0, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(5), probeJitter: .none),
            stableUptime: .seconds(10),
            timerTolerance: .exact,
            stopTimeout: nil
        )
        let supervisor = ResourceSupervisor(
            resource, name: "degraded", policy: policy, clock: clock, logger: Self.quiet)
        let log = EventLog.of(supervisor)
        let task = Task { try await supervisor.run() }
        let nudge: @Sendable () async -> Void = { await clock.advance(by: .zero) }

        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "backingOff" } })
        await clock.advance(by: .seconds(5))  // the probe: ready at 5 s
        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "ready" } })
        try await Task.sleep(for: .milliseconds(100))  // the run's sleep and the recovery deadline register
        await clock.advance(by: .seconds(9))  // 14 s: the run dies after 9 s up; its stop lasts until 16 s
        try await Task.sleep(for: .milliseconds(100))
        await clock.advance(by: .seconds(1))  // 15 s: the stable instant of a run that ended at 14 s
        try await Task.sleep(for: .milliseconds(300))
        #expect(!log.kinds.contains("recovered"), "events: \(log.kinds)")
        await clock.advance(by: .seconds(1))  // 16 s: the stop ends
        #expect(await log.wait(nudge: nudge) { $0.filter { $0.reviewKind == "backingOff" }.count == 2 })
        let failure = try #require(log.all.compactMap(\.reviewFailure).last)
        #expect(failure.uptime == .seconds(9), "uptime \(String(describing: failure.uptime))")
        // Still degraded after a 9 s run: the next delay is the probe interval, not the normal 1 s.
        #expect(log.all.compactMap(\.reviewDelay).last == .seconds(5), "events: \(log.kinds)")
        task.cancel()
        try await task.value
    }

    // MARK: - a stable run that ends before the (tolerant) recovery timer still reports recovered

    @Test("a degraded run that was stable when it ended always reports recovered, even if the timer is late")
    func recoveredNotLostToTimerTolerance() async throws {
        let clock = RecordingClock(wakesLate: true)  // timers fire as late as their tolerance allows
        let resource = ScriptedResource(
            clock: clock,
            script: [
                .failStart(Transient()),  // trips the intensity: degraded
                .run(for: .milliseconds(10_500), then: .fail(Transient())),  // stable (10 s), dies at 10.5 s
            ])
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 0, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(5), probeJitter: .none),
            stableUptime: .seconds(10),  // default tolerance: 10 % of it, so the timer may fire at 11 s
            stopTimeout: nil
        )
        let supervisor = ResourceSupervisor(resource, name: "late", policy: policy, clock: clock, logger: Self.quiet)
        let log = EventLog.of(supervisor)
        let task = Task { try await supervisor.run() }
        let nudge: @Sendable () async -> Void = { await clock.advance(by: .zero) }

        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "degraded" } })
        try await Task.sleep(for: .milliseconds(100))
        await clock.advance(by: .milliseconds(5_500))  // the probe (5 s + 0.5 s tolerance): ready at 5.5 s
        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "ready" } })
        try await Task.sleep(for: .milliseconds(100))
        await clock.advance(by: .milliseconds(10_500))  // 16 s: the run dies after 10.5 s up
        #expect(await log.wait(nudge: nudge) { $0.filter { $0.reviewKind == "backingOff" }.count == 2 })
        await clock.advance(by: .seconds(1))  // the recovery timer (15.5 s + 1 s) fires now
        try await Task.sleep(for: .milliseconds(300))
        // The stable run ended the degraded state (the next failure trips maxRestarts 0 again and publishes a
        // second `degraded`), yet no `recovered` was ever published in between.
        #expect(log.count("degraded") == 2, "events: \(log.kinds)")
        #expect(log.kinds.contains("recovered"), "events: \(log.kinds)")
        task.cancel()
        try await task.value
    }

    // MARK: - stop(_:) is not cancelled by a cancellation that arrives during it, with no stop timeout

    @Test("with stopTimeout nil, a cancellation during stop(_:) does not cancel the stop")
    func stopNotCancelledMidway() async throws {
        let began = AsyncStream.makeStream(of: Void.self)
        let gate = AsyncStream.makeStream(of: Void.self)
        let sawCancellation = ReviewFlag()
        let resource = RestartableResource<Int>(
            start: { 1 },
            run: { _ in throw Transient() },
            stop: { _ in
                began.continuation.yield()
                for await _ in gate.stream {}  // the clean-up's own await
                sawCancellation.value.withLock { $0 = Task.isCancelled }
            }
        )
        let policy = try RestartPolicy(backoff: .constant(.seconds(1)), stopTimeout: nil)
        let supervisor = ResourceSupervisor(resource, name: "nil-timeout", policy: policy, logger: Self.quiet)
        let task = Task { try await supervisor.run() }
        for await _ in began.stream { break }
        task.cancel()
        try await Task.sleep(for: .milliseconds(100))
        gate.continuation.finish()
        try await task.value
        #expect(sawCancellation.value.withLock { $0 } == false, "stop(_:) ran cancelled")
    }

    // MARK: - a graceful shutdown the resource sees first is still the shutdown

    @Test("a run that ends because of the graceful shutdown is the shutdown, not a failure")
    func gracefulShutdownSeenByResourceFirst() async throws {
        var misclassified = 0
        let rounds = 200
        for _ in 0..<rounds {
            let failed = try await testGracefulShutdown { trigger in
                // The resource triggers the shutdown and its run ends at once, as a resource that watches the
                // graceful shutdown itself (cancelOnGracefulShutdown, a handler that closes its socket) would.
                let resource = RestartableResource<Int>(
                    start: { 1 },
                    run: { _ in
                        trigger.triggerGracefulShutdown()
                        throw Transient()
                    }
                )
                let supervisor = ResourceSupervisor(
                    resource, name: "graceful",
                    policy: try RestartPolicy(classifier: .always(.giveUp), stopTimeout: nil),
                    logger: Self.quiet)
                do {
                    try await supervisor.run()
                    return false
                } catch {
                    return true
                }
            }
            if failed { misclassified += 1 }
        }
        #expect(misclassified == 0, "\(misclassified) of \(rounds) graceful shutdowns ended in SupervisorError")
    }

    @Test("a run that ends through its own graceful-shutdown handler is the shutdown, not a failure")
    func gracefulShutdownHandlerInResource() async throws {
        var misclassified = 0
        let rounds = 200
        for _ in 0..<rounds {
            let failed = try await testGracefulShutdown { trigger in
                let ready = AsyncStream.makeStream(of: Void.self)
                let resource = RestartableResource<Int>(
                    start: { 1 },
                    run: { _ in
                        let closed = AsyncStream.makeStream(of: Void.self)
                        await withGracefulShutdownHandler {
                            ready.continuation.yield()
                            for await _ in closed.stream {}
                        } onGracefulShutdown: {
                            closed.continuation.finish()
                        }
                        throw Transient()  // "connection closed"
                    }
                )
                let supervisor = ResourceSupervisor(
                    resource, name: "graceful",
                    policy: try RestartPolicy(classifier: .always(.giveUp), stopTimeout: nil),
                    logger: Self.quiet)
                async let outcome = Self.threw(supervisor)
                for await _ in ready.stream { break }
                trigger.triggerGracefulShutdown()
                return await outcome
            }
            if failed { misclassified += 1 }
        }
        #expect(misclassified == 0, "\(misclassified) of \(rounds) graceful shutdowns ended in SupervisorError")
    }

    static func threw<R>(_ supervisor: ResourceSupervisor<R>) async -> Bool {
        do {
            try await supervisor.run()
            return false
        } catch {
            return true
        }
    }

    // MARK: - wake() respects minimumRestartDelay

    @Test("wake() cuts a backoff short but never below minimumRestartDelay: a flapping monitor cannot make it spin")
    func wakeStormRespectsFloor() async throws {
        let clock = TestClock()  // frozen: not even the 5 ms floor ever elapses
        let starts = ReviewCounter()
        let resource = RestartableResource<Int>(
            start: {
                _ = starts.next()
                throw Transient()
            },
            run: { _ in }
        )
        let supervisor = ResourceSupervisor(
            resource, name: "woken", policy: try RestartPolicy(backoff: .constant(.seconds(60))), clock: clock,
            logger: Self.quiet)
        let task = Task { try await supervisor.run() }
        let waker = Task.detached {
            let end = ContinuousClock.now + .milliseconds(200)
            while ContinuousClock.now < end { supervisor.wake() }
        }
        await waker.value
        task.cancel()
        try await task.value
        #expect(starts.current == 1, "\(starts.current) starts in 200 ms with the clock frozen")
    }

    // MARK: - Attempt numbers after a stable run

    @Test("the start after a stable run's failure is attempt 2: that failure opens a new streak")
    func attemptAfterStableRun() async throws {
        let harness = SupervisorHarness(
            [.run(for: .seconds(20), then: .fail(Transient()))],
            policy: try RestartPolicy(
                backoff: .constant(.seconds(1)), stableUptime: .seconds(10), timerTolerance: .exact)
        )
        let log = EventLog.of(harness.supervisor)
        let task = Task { try await harness.supervisor.run() }
        #expect(await harness.nextReady())
        await harness.clock.advance(by: .seconds(20))  // a stable run ends
        _ = await harness.nextBackoff()
        await harness.clock.advance(by: .seconds(1))
        #expect(await harness.nextReady())
        let attempts = log.all.compactMap { event -> Int? in
            if case .starting(let attempt) = event { attempt } else { nil }
        }
        #expect(attempts == [1, 2], "starting attempts \(attempts)")
        task.cancel()
        try await task.value
    }

    // MARK: - A stable uptime too long to add to an instant is refused, not a trap later

    @Test("a stable uptime beyond the longest delay is a configuration error, not a trap when a run becomes ready")
    func hugeStableUptimeRefused() {
        #expect(throws: ConfigurationError.self) { try RestartPolicy(stableUptime: .seconds(Int64.max)) }
        #expect(throws: ConfigurationError.self) { try RestartPolicy(stableUptime: Backoff.longestDelay + .seconds(1)) }
    }

    // MARK: - Extremes: nothing traps

    @Test("extreme durations: nothing traps")
    func extremes() async throws {
        let clock = TestClock()
        let huge = Duration.seconds(Int64.max)
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 0, within: huge),
            escalation: .degrade(probeInterval: Backoff.longestDelay),
            stableUptime: Backoff.longestDelay,  // `huge` traps: see hugeStableUptimeTraps
            maxAttempts: .max,
            maxFailingDuration: huge,
            timerTolerance: .fixed(huge),
            minimumRestartDelay: Backoff.longestDelay,
            stopTimeout: Backoff.longestDelay,
            hints: .floor(spread: 1)
        )
        let starts = ReviewCounter()
        let resource = RestartableResource<Int>(
            start: {
                if starts.next() == 1 { throw Throttled(retryAfter: huge) }
                return 1
            },
            run: { _ in try await Task.sleep(for: .seconds(3_600)) }
        )
        let supervisor = ResourceSupervisor(resource, name: "extreme", policy: policy, clock: clock, logger: Self.quiet)
        let log = EventLog.of(supervisor)
        let task = Task { try await supervisor.run() }
        let nudge: @Sendable () async -> Void = { await clock.advance(by: .zero) }
        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "backingOff" } })
        await clock.advance(by: Backoff.longestDelay)
        #expect(await log.wait(nudge: nudge) { $0.contains { $0.reviewKind == "ready" } })
        await clock.advance(by: Backoff.longestDelay)
        task.cancel()
        try await task.value

        var attempts = 0
        let value = try await retry(
            backoff: .constant(.seconds(1)), maxAttempts: .max, maxElapsed: huge, hints: .floor(spread: 1),
            timerTolerance: .fixed(huge), clock: ImmediateClock()
        ) {
            attempts += 1
            if attempts < 3 { throw Throttled(retryAfter: huge) }
            return attempts
        }
        #expect(value == 3)
    }
}
