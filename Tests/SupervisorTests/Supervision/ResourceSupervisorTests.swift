import Clocks
import InMemoryLogging
import Logging
import MetricsTestKit
import ServiceLifecycle
import ServiceLifecycleTestKit
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

@Suite("ResourceSupervisor under virtual time", .timeLimit(.minutes(1)))
struct ResourceSupervisorTests {
    static func exponential() throws -> Backoff {
        try .exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(60))
    }

    static func policy(_ backoff: Backoff, stableUptime: Duration = .seconds(10)) throws -> RestartPolicy {
        try RestartPolicy(backoff: backoff, stableUptime: stableUptime, timerTolerance: .exact)
    }

    @Test("a transient failure is restarted after exactly the scheduled delay, not a moment sooner")
    func restartsTransientFailure() async throws {
        let harness = SupervisorHarness(
            [.failStart(Transient()), .failStart(Transient()), .run(for: .seconds(1_000), then: .hang)],
            policy: try Self.policy(Self.exponential())
        )
        let task = Task { try await harness.supervisor.run() }

        let first = try #require(await harness.nextBackoff())
        #expect(first.delay == .seconds(1) && first.until == .seconds(1))
        await harness.clock.advance(by: .milliseconds(999))
        #expect(harness.resource.ledger.snapshot.startCalls == 1)
        await harness.clock.advance(by: .milliseconds(1))

        let second = try #require(await harness.nextBackoff())
        #expect(second.delay == .seconds(2) && second.until == .seconds(3))
        await harness.clock.advance(by: .milliseconds(1_999))
        #expect(harness.resource.ledger.snapshot.startCalls == 2)
        await harness.clock.advance(by: .milliseconds(1))

        #expect(await harness.nextReady())
        #expect(harness.supervisor.state.isReady)
        task.cancel()
        try await task.value
        let ledger = harness.resource.ledger.snapshot
        #expect(ledger.startCalls == 3 && ledger.starts == 1 && ledger.stops == 1 && ledger.runsInProgress == 0)
        #expect(ledger.violations.isEmpty)
    }

    @Test("a stop-class error (our own close) ends supervision cleanly, without a restart")
    func stopClassErrorDoesNotRestart() async throws {
        let harness = SupervisorHarness(
            [.run(for: .seconds(5), then: .fail(ClosedByUs()))],
            policy: try Self.policy(Self.exponential())
        )
        let task = Task { try await harness.supervisor.run() }
        #expect(await harness.nextReady())
        await harness.clock.advance(by: .seconds(5))
        try await task.value  // returns, does not throw
        guard case .stopped(.stopDecision(let error)) = harness.supervisor.state else {
            Issue.record("state \(harness.supervisor.state)")
            return
        }
        #expect(error is ClosedByUs)
        let ledger = harness.resource.ledger.snapshot
        #expect(ledger.startCalls == 1 && ledger.stops == 1 && ledger.violations.isEmpty)
    }

    @Test("cancelled in the middle of a one-hour backoff, it stops at once without waiting it out")
    func cancelledMidBackoff() async throws {
        let harness = SupervisorHarness([.failStart(Transient())], policy: try Self.policy(.constant(.seconds(3_600))))
        let origin = harness.clock.now
        let task = Task { try await harness.supervisor.run() }
        #expect(try #require(await harness.nextBackoff()).delay == .seconds(3_600))
        let before = ContinuousClock.now
        task.cancel()
        try await task.value
        let elapsed = ContinuousClock.now - before
        #expect(harness.clock.now == origin)  // the virtual clock never moved
        #expect(harness.supervisor.state.stopReason?.isRequested == true)
        #expect(harness.resource.ledger.snapshot.startCalls == 1)
        // Not a timing assertion (see Docs/benchmarks.md for the measured latency): only that it did not wait.
        #expect(elapsed < .seconds(5))
    }

    @Test("a fatal failure gives up and run() throws a SupervisorError carrying it")
    func fatalGivesUp() async throws {
        let harness = SupervisorHarness(
            [.run(for: .seconds(1), then: .fail(Fatal()))],
            policy: try Self.policy(Self.exponential())
        )
        let task = Task { try await harness.supervisor.run() }
        #expect(await harness.nextReady())
        await harness.clock.advance(by: .seconds(1))
        let error = await #expect(throws: SupervisorError.self) { try await task.value }
        #expect(error?.code == .fatal && error?.lastFailure is Fatal && error?.phase == .run)
        #expect(error?.description.contains("test") == true)
        let ledger = harness.resource.ledger.snapshot
        #expect(ledger.starts == 1 && ledger.stops == 1 && ledger.violations.isEmpty)
    }

    @Test("the restart intensity trips, the supervisor degrades to slow probes, and recovers after a stable run")
    func intensityDegradesAndRecovers() async throws {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 2, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none),
            stableUptime: .seconds(10),
            timerTolerance: .exact
        )
        let harness = SupervisorHarness(
            [
                .failStart(Transient()), .failStart(Transient()), .failStart(Transient()),  // the third trips
                .failStart(Transient()),  // a failed probe
                .run(for: .seconds(20), then: .fail(Transient())),  // a stable run, then a fresh failure
                .run(for: .seconds(1_000), then: .hang),
            ],
            policy: policy
        )
        let task = Task { try await harness.supervisor.run() }
        for _ in 0..<2 {
            #expect(try #require(await harness.nextBackoff()).delay == .seconds(1))
            await harness.clock.advance(by: .seconds(1))
        }
        let degraded = await harness.next { if case .degraded = $0 { true } else { false } }
        guard case .degraded(let probeInterval)? = degraded else {
            Issue.record("no degraded event")
            return
        }
        #expect(probeInterval == .seconds(30))
        #expect(try #require(await harness.nextBackoff()).delay == .seconds(30))
        guard case .degraded = harness.supervisor.state else {
            Issue.record("state \(harness.supervisor.state) while degraded")
            return
        }
        await harness.clock.advance(by: .seconds(30))
        #expect(try #require(await harness.nextBackoff()).delay == .seconds(30))  // the failed probe
        await harness.clock.advance(by: .seconds(30))
        #expect(await harness.nextReady())
        await harness.clock.advance(by: .seconds(20))
        // After the stable run: normal backoff again, and the state says backing off, not degraded.
        #expect(try #require(await harness.nextBackoff()).delay == .seconds(1))
        guard case .backingOff = harness.supervisor.state else {
            Issue.record("state \(harness.supervisor.state) after recovery")
            return
        }
        await harness.clock.advance(by: .seconds(1))
        #expect(await harness.nextReady())
        task.cancel()
        try await task.value
        #expect(harness.resource.ledger.snapshot.violations.isEmpty)
    }

    @Test("stable uptime resets the delay to the initial one; a short run does not")
    func stableUptimeResetsDelay() async throws {
        let harness = SupervisorHarness(
            [
                .failStart(Transient()), .failStart(Transient()),
                .run(for: .seconds(3), then: .fail(Transient())),  // short: the schedule goes on (4 s)
                .run(for: .seconds(10), then: .fail(Transient())),  // stable: back to 1 s
                .run(for: .seconds(1_000), then: .hang),
            ],
            policy: try Self.policy(Self.exponential(), stableUptime: .seconds(10))
        )
        let task = Task { try await harness.supervisor.run() }
        var delays: [Duration] = []
        // Two start failures, then runs of 3 s and 10 s, each followed by a backoff.
        for runTime in [nil, .seconds(3), .seconds(10), nil] as [Duration?] {
            let backoff = try #require(await harness.nextBackoff())
            delays.append(backoff.delay)
            await harness.clock.advance(by: backoff.delay)
            if let runTime {
                #expect(await harness.nextReady())
                await harness.clock.advance(by: runTime)
            }
        }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(1)])
        task.cancel()
        try await task.value
    }

    @Test("wake() cuts a pending backoff short; it is idempotent and harmless when not backing off")
    func wakeCutsBackoff() async throws {
        let harness = SupervisorHarness(
            [.failStart(Transient()), .run(for: .seconds(1_000), then: .hang)],
            policy: try Self.policy(.constant(.seconds(3_600)))
        )
        let origin = harness.clock.now
        let task = Task { try await harness.supervisor.run() }
        _ = try #require(await harness.nextBackoff())
        // Without a spread (one supervisor, nobody to herd): at once, down to the floor.
        harness.supervisor.wake(spread: .zero)
        harness.supervisor.wake(spread: .zero)
        // Not the hour: only what is left of the minimum restart delay since the failure.
        await harness.clock.advance(by: RestartPolicy.standardMinimumRestartDelay)
        #expect(await harness.nextReady())
        #expect(harness.clock.now == origin.advanced(by: RestartPolicy.standardMinimumRestartDelay))
        // Ready, not backing off: wake does nothing.
        harness.supervisor.wake()
        await harness.clock.advance(by: .seconds(1))
        #expect(harness.supervisor.state.isReady)
        #expect(harness.resource.ledger.snapshot.startCalls == 2)
        task.cancel()
        try await task.value
    }

    @Test("a wake-up before any backoff does not cut the next one short")
    func earlyWakeIsForgotten() async throws {
        let harness = SupervisorHarness(
            [.run(for: .seconds(1), then: .fail(Transient())), .run(for: .seconds(1_000), then: .hang)],
            policy: try Self.policy(.constant(.seconds(60)))
        )
        let task = Task { try await harness.supervisor.run() }
        #expect(await harness.nextReady())
        harness.supervisor.wake()
        await harness.clock.advance(by: .seconds(1))
        _ = try #require(await harness.nextBackoff())
        await harness.clock.advance(by: .seconds(59))
        #expect(harness.resource.ledger.snapshot.startCalls == 1)
        await harness.clock.advance(by: .seconds(1))
        #expect(await harness.nextReady())
        task.cancel()
        try await task.value
    }

    @Test("a graceful shutdown of its ServiceGroup stops it, and stop() runs once for the live instance")
    func gracefulShutdownThroughServiceGroup() async throws {
        let harness = SupervisorHarness(
            [.run(for: .seconds(1_000), then: .hang)],
            policy: try Self.policy(Self.exponential())
        )
        let quiet = Logger(label: "group", factory: { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(services: [harness.supervisor], logger: quiet)
        let task = Task { try await group.run() }
        #expect(await harness.nextReady())
        await group.triggerGracefulShutdown()
        try await task.value
        #expect(harness.supervisor.state.stopReason?.isRequested == true)
        let ledger = harness.resource.ledger.snapshot
        #expect(ledger.starts == 1 && ledger.stops == 1 && ledger.runsInProgress == 0)
    }

    @Test("a graceful shutdown in the middle of a backoff (ServiceLifecycleTestKit)")
    func gracefulShutdownMidBackoff() async throws {
        let harness = SupervisorHarness([.failStart(Transient())], policy: try Self.policy(.constant(.seconds(3_600))))
        try await testGracefulShutdown { trigger in
            let task = Task { try await harness.supervisor.run() }
            _ = try #require(await harness.nextBackoff())
            trigger.triggerGracefulShutdown()
            try await task.value
        }
        #expect(harness.supervisor.state.stopReason?.isRequested == true)
        #expect(harness.resource.ledger.snapshot.startCalls == 1)
    }

    /// Where the resource's `run(_:)` ran, and whether it ended by cancellation.
    final class RunSite: Sendable {
        private let state = Mutex<(task: Int?, cancelled: Bool)>((nil, false))
        var task: Int? { state.withLock { $0.task } }
        var cancelled: Bool { state.withLock { $0.cancelled } }

        /// A resource whose run records its task and waits for cancellation.
        var resource: RestartableResource<Int> {
            RestartableResource(
                start: { 0 },
                run: { _ in
                    self.state.withLock { $0.task = Self.currentTask() }
                    do {
                        try await Task.sleep(for: .seconds(3_600))
                    } catch {
                        self.state.withLock { $0.cancelled = true }
                        throw error
                    }
                }
            )
        }

        static func currentTask() -> Int? { withUnsafeCurrentTask { $0?.hashValue } }
    }

    /// Without a ServiceGroup the resource runs in run()'s own task, and cancelling that task stops it; under one,
    /// it runs in a child task that a graceful shutdown cancels while run()'s task goes on.
    @Test("the resource runs in run()'s own task, or in a child task when a graceful shutdown can reach it")
    func whereTheResourceRuns() async throws {
        let policy = try Self.policy(.constant(.seconds(1)))
        let quiet = Logger(label: "site", factory: { _ in SwiftLogNoOpLogHandler() })

        let alone = RunSite()
        let supervisor = ResourceSupervisor(alone.resource, name: "alone", policy: policy, logger: quiet)
        let runner = Task { () -> Int? in
            let task = RunSite.currentTask()
            try await supervisor.run()
            return task
        }
        for _ in 0..<2_000 where alone.task == nil { try await Task.sleep(for: .milliseconds(5)) }
        runner.cancel()
        let runnerTask = try await runner.value
        #expect(alone.task != nil && alone.task == runnerTask)
        #expect(alone.cancelled && supervisor.state.stopReason?.isRequested == true)

        let grouped = RunSite()
        let service = ResourceSupervisor(grouped.resource, name: "grouped", policy: policy, logger: quiet)
        try await testGracefulShutdown { trigger in
            let runner = Task { () -> (task: Int?, cancelledAfter: Bool) in
                let task = RunSite.currentTask()
                try await service.run()
                return (task, Task.isCancelled)
            }
            for _ in 0..<2_000 where grouped.task == nil { try await Task.sleep(for: .milliseconds(5)) }
            trigger.triggerGracefulShutdown()
            let (runnerTask, cancelledAfter) = try await runner.value
            #expect(grouped.task != nil && grouped.task != runnerTask)
            // The resource's task was cancelled; the caller's task was not.
            #expect(grouped.cancelled && !cancelledAfter)
        }
        #expect(service.state.stopReason?.isRequested == true)
    }

    @Test("metrics: failures by phase, decisions, restarts, the current state, time to recover, uptime")
    func metrics() async throws {
        let metrics = TestMetrics()
        let harness = SupervisorHarness(
            [
                .failStart(Transient()), .failStart(Transient()),
                .run(for: .seconds(4), then: .fail(Transient())),
                .run(for: .seconds(1_000), then: .hang),
            ],
            policy: try Self.policy(.constant(.seconds(1))),
            metricsFactory: metrics
        )
        let task = Task { try await harness.supervisor.run() }
        for _ in 0..<2 {
            _ = await harness.nextBackoff()
            await harness.clock.advance(by: .seconds(1))
        }
        #expect(await harness.nextReady())
        await harness.clock.advance(by: .seconds(4))
        _ = await harness.nextBackoff()
        let name = ("name", "test")
        #expect(try metrics.expectCounter("supervisor_failures_total", [name, ("phase", "start")]).totalValue == 2)
        #expect(try metrics.expectCounter("supervisor_failures_total", [name, ("phase", "run")]).totalValue == 1)
        #expect(
            try metrics.expectCounter("supervisor_decisions_total", [name, ("decision", "restart")]).totalValue == 3)
        #expect(try metrics.expectCounter("supervisor_restarts_total", [name]).totalValue == 3)
        #expect(try metrics.expectGauge("supervisor_state", [name, ("state", "backing-off")]).lastValue == 1)
        #expect(try metrics.expectGauge("supervisor_state", [name, ("state", "ready")]).lastValue == 0)
        // Failing since 0, ready at 2 s; then up for 4 s.
        #expect(try metrics.expectTimer("supervisor_time_to_recover", [name]).values == [2_000_000_000])
        #expect(try metrics.expectTimer("supervisor_uptime", [name]).values == [4_000_000_000])
        await harness.clock.advance(by: .seconds(1))
        #expect(await harness.nextReady())
        #expect(try metrics.expectGauge("supervisor_state", [name, ("state", "ready")]).lastValue == 1)
        task.cancel()
        try await task.value
        #expect(try metrics.expectGauge("supervisor_state", [name, ("state", "stopped")]).lastValue == 1)
    }

    @Test("log lines carry the supervisor's name, the attempt, the delay, the decision and the error")
    func logs() async throws {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .debug
        let harness = SupervisorHarness(
            [.failStart(Transient(id: 7)), .run(for: .seconds(1_000), then: .hang)],
            policy: try Self.policy(.constant(.seconds(2))),
            logger: logger
        )
        let task = Task { try await harness.supervisor.run() }
        _ = await harness.nextBackoff()
        await harness.clock.advance(by: .seconds(2))
        #expect(await harness.nextReady())
        task.cancel()
        try await task.value
        let entries = handler.entries
        let messages = entries.map { "\($0.message)" }
        #expect(messages == ["starting", "failed", "backing off", "starting", "ready", "stopped"])
        #expect(entries.allSatisfy { $0.metadata["supervisor"] == "test" })
        let failed = try #require(entries.first { "\($0.message)" == "failed" })
        #expect(failed.level == .warning)
        #expect(failed.metadata["phase"] == "start" && failed.metadata["decision"] == "restart")
        #expect(failed.metadata["error"]?.description.contains("Transient(id: 7)") == true)
        let backingOff = try #require(entries.first { "\($0.message)" == "backing off" })
        #expect(backingOff.metadata["delay"] == "2.0 seconds" && backingOff.metadata["attempt"] == "2")
    }

    @Test("a supervisor runs once; a late subscriber gets the final event")
    func runsOnce() async throws {
        let harness = SupervisorHarness([.run(for: .seconds(1), then: .fail(ClosedByUs()))], policy: .default)
        let task = Task { try await harness.supervisor.run() }
        #expect(await harness.nextReady())
        await harness.clock.advance(by: .seconds(1))
        try await task.value
        await #expect(throws: ConfigurationError.self) { try await harness.supervisor.run() }
        var late = harness.supervisor.events().makeAsyncIterator()
        guard case .stopped(.stopDecision)? = await late.next() else {
            Issue.record("late subscriber did not get the final event")
            return
        }
        #expect(await late.next() == nil)
    }
}

extension SupervisorState {
    var stopReason: SupervisorStopReason? {
        if case .stopped(let reason) = self { reason } else { nil }
    }
}
