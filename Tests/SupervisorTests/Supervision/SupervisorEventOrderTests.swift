import Supervisor
import Testing

@testable import Supervisor

/// The events a supervisor publishes, in order, from the state machine alone: what each action tells the runner to
/// publish is what subscribers and the log see (the runner publishes through the same `forEachEvent`).
@Suite("Supervisor state machine: event order")
struct SupervisorEventOrderTests {
    /// Drives a machine as the runner does and keeps what it would publish, as short labels.
    struct Driver {
        var machine: SupervisorStateMachine
        private(set) var events: [String] = []
        private(set) var state: SupervisorState = .idle

        init(_ policy: RestartPolicy) {
            machine = SupervisorStateMachine(policy: policy, generator: SplitMix64(seed: 1))
        }

        /// Records what `action` publishes, and returns it.
        @discardableResult
        mutating func publish<Action: SupervisorPublication>(_ action: Action) -> Action {
            action.forEachEvent(supervisor: "test") { events.append(Self.label($0)) }
            if let newState = action.state(supervisor: "test") { state = newState }
            return action
        }

        /// Records `event`, if any: a single event never changes the state.
        mutating func publish(_ event: SupervisorEvent?) {
            if let event { events.append(Self.label(event)) }
        }

        /// Takes the events recorded so far.
        mutating func take() -> [String] {
            defer { events = [] }
            return events
        }

        static func label(_ event: SupervisorEvent) -> String {
            switch event {
            case .starting(let attempt): "starting \(attempt)"
            case .ready(let attempt): "ready \(attempt)"
            case .failed(let failure): "failed \(failure.phase) #\(failure.failures) \(failure.decision)"
            case .backingOff(let delay, let until, let attempt):
                "backingOff \(milliseconds(delay)) ms until \(milliseconds(until)) ms, attempt \(attempt)"
            case .waitingForBudget(let until): "waitingForBudget until \(milliseconds(until)) ms"
            case .degraded(let probeInterval): "degraded \(milliseconds(probeInterval)) ms"
            case .recovered: "recovered"
            case .stopTimedOut(let timeout): "stopTimedOut \(milliseconds(timeout)) ms"
            case .stopped(.requested): "stopped requested"
            case .stopped(.stopDecision): "stopped stopDecision"
            case .stopped(.completed): "stopped completed"
            case .stopped(.gaveUp(let error)): "stopped gaveUp \(error.code)"
            }
        }

        static func milliseconds(_ duration: Duration) -> Int64 {
            duration.nanosecondsClamped / 1_000_000
        }
    }

    /// The timeline's instant at which `run()` began: the events count from here.
    static let origin = Duration.seconds(100)

    static func at(_ seconds: Double) -> Duration {
        origin + .delay(seconds: seconds)
    }

    @Test("a run fails: failed, backingOff; the backoff ends: starting")
    func failureBackoffRestart() throws {
        var driver = Driver(try RestartPolicy(backoff: .constant(.seconds(1))))
        driver.publish(driver.machine.begin(at: Self.origin))
        driver.publish(driver.machine.startSucceeded(at: Self.at(1)))
        #expect(driver.take() == ["starting 1", "ready 1"])
        #expect(driver.state.isReady)

        driver.publish(driver.machine.runReturned(at: Self.at(3), recoveryPending: false))
        driver.publish(driver.machine.stopEnded(timedOut: false))
        let action = driver.publish(driver.machine.runEnded(Transient(), at: Self.at(3)))
        #expect(driver.take() == ["failed run #1 restart", "backingOff 1000 ms until 4000 ms, attempt 2"])
        guard case .restart(let restart) = action.outcome, case .backingOff(let delay, let until) = driver.state else {
            Issue.record("not backing off: \(action), \(driver.state)")
            return
        }
        // The runner waits on its alarm until the deadline on the timeline; the state counts from `run()`.
        #expect(restart.waits && restart.until == Self.at(4))
        #expect(delay == .seconds(1) && until == .seconds(4))

        driver.publish(driver.machine.backoffEnded())
        #expect(driver.take() == ["starting 2"])
        guard case .starting(attempt: 2) = driver.state else {
            Issue.record("not starting: \(driver.state)")
            return
        }
    }

    @Test("a wake-up before the minimum restart delay waits out the rest, then starts without another event")
    func wakeUpWaitsOutTheFloor() throws {
        var driver = Driver(try RestartPolicy(backoff: .constant(.seconds(60)), minimumRestartDelay: .seconds(2)))
        driver.publish(driver.machine.begin(at: Self.origin))
        driver.publish(driver.machine.startFailed(Transient(), at: Self.at(1)))
        #expect(
            driver.take() == ["starting 1", "failed start #1 restart", "backingOff 60000 ms until 61000 ms, attempt 2"])

        // Woken 1 s after the failure: the floor is 2 s after it.
        let early = driver.publish(driver.machine.backoffEnded(wokenAt: Self.at(2)))
        guard case .waitOut(let until) = early else {
            Issue.record("did not wait out the floor: \(early)")
            return
        }
        #expect(until == Self.at(3) && driver.take().isEmpty)
        driver.publish(driver.machine.backoffEnded())
        #expect(driver.take() == ["starting 2"])

        // Woken after the floor: the next attempt starts at once.
        driver.publish(driver.machine.startFailed(Transient(), at: Self.at(10)))
        _ = driver.take()
        driver.publish(driver.machine.backoffEnded(wokenAt: Self.at(13)))
        #expect(driver.take() == ["starting 3"])
    }

    @Test("the failure that trips the intensity: failed, degraded, backingOff; a stable run: recovered")
    func degradedTransition() throws {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 1, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none),
            stableUptime: .seconds(5)
        )
        var driver = Driver(policy)
        driver.publish(driver.machine.begin(at: Self.origin))
        driver.publish(driver.machine.startFailed(Transient(), at: Self.at(0)))
        driver.publish(driver.machine.backoffEnded())
        #expect(
            driver.take() == [
                "starting 1", "failed start #1 restart", "backingOff 1000 ms until 1000 ms, attempt 2", "starting 2",
            ])

        driver.publish(driver.machine.startFailed(Transient(), at: Self.at(1)))
        #expect(
            driver.take() == [
                "failed start #2 restart", "degraded 30000 ms", "backingOff 30000 ms until 31000 ms, attempt 3",
            ])
        guard case .degraded(let until) = driver.state else {
            Issue.record("not degraded: \(driver.state)")
            return
        }
        #expect(until == .seconds(31))

        // The next start succeeds: the runner has the scheduler ring when the run becomes stable.
        driver.publish(driver.machine.backoffEnded())
        let ready = driver.publish(driver.machine.startSucceeded(at: Self.at(31)))
        #expect(driver.take() == ["starting 3", "ready 3"])
        guard case .serve(_, _, let recoversAt) = ready else {
            Issue.record("not serving: \(ready)")
            return
        }
        #expect(recoversAt == Self.at(36))
        // Not stable yet when it ends, or stable but reported already by the scheduler: nothing.
        #expect(driver.machine.runReturned(at: Self.at(35), recoveryPending: true) == nil)
        #expect(driver.machine.runReturned(at: Self.at(40), recoveryPending: false) == nil)
        // Stable, and the scheduler's timer has not rung yet: recovered, then a new streak on the normal schedule.
        driver.publish(driver.machine.runReturned(at: Self.at(40), recoveryPending: true))
        driver.publish(driver.machine.stopEnded(timedOut: false))
        driver.publish(driver.machine.runEnded(Transient(), at: Self.at(40)))
        #expect(
            driver.take() == ["recovered", "failed run #1 restart", "backingOff 1000 ms until 41000 ms, attempt 2"])
    }

    @Test(
        "a restart at once: failed, backingOff 0, starting in one publication; the next start adds none",
        arguments: [FailureDecision.restartNow, .restart]
    )
    func restartAtOnce(decision: FailureDecision) throws {
        let policy = try RestartPolicy(
            backoff: .constant(.zero),
            classifier: .always(decision),
            minimumRestartDelay: .zero
        )
        var driver = Driver(policy)
        driver.publish(driver.machine.begin(at: Self.origin))
        let action = driver.publish(driver.machine.startFailed(Transient(), at: Self.at(2)))
        #expect(
            driver.take() == [
                "starting 1", "failed start #1 \(decision)", "backingOff 0 ms until 2000 ms, attempt 2", "starting 2",
            ])
        guard case .restart(let restart) = action.outcome, case .starting(attempt: 2) = driver.state else {
            Issue.record("not starting at once: \(action), \(driver.state)")
            return
        }
        // No wait but a yield; then the start, announced already.
        #expect(!restart.waits)
        let next = driver.publish(driver.machine.backoffEnded())
        guard case .start(attempt: 2, announce: false) = next else {
            Issue.record("not the announced start: \(next)")
            return
        }
        #expect(driver.take().isEmpty)

        // A shutdown that arrives after the announcement ends supervision before `start()`: stopped follows.
        driver.publish(driver.machine.startFailed(Transient(), at: Self.at(3)))
        _ = driver.take()
        driver.publish(driver.machine.backoffEnded(stopping: true))
        #expect(driver.take() == ["stopped requested"])
        #expect(driver.machine.phase == .finished)
    }

    @Test("give-up by intensity: failed, then stopped with intensityExceeded")
    func giveUpByIntensity() throws {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 2, within: .seconds(10))
        )
        var driver = Driver(policy)
        driver.publish(driver.machine.begin(at: Self.origin))
        for second in 0..<2 {
            driver.publish(driver.machine.startFailed(Transient(), at: Self.at(Double(second))))
            driver.publish(driver.machine.backoffEnded())
        }
        _ = driver.take()
        driver.publish(driver.machine.startFailed(Transient(), at: Self.at(2)))
        #expect(driver.take() == ["failed start #3 restart", "stopped gaveUp restart intensity exceeded"])
        guard case .stopped(.gaveUp(let error)) = driver.state else {
            Issue.record("not stopped: \(driver.state)")
            return
        }
        #expect(error.name == "test" && error.code == .intensityExceeded && error.failures == 3)
        #expect(driver.machine.phase == .finished)
    }

    @Test("a stop decision: failed, then stopped; a completion under .finish: stopped alone")
    func stopDecision() throws {
        var driver = Driver(.default)
        driver.publish(driver.machine.begin(at: Self.origin))
        driver.publish(driver.machine.startSucceeded(at: Self.at(0)))
        driver.publish(driver.machine.runReturned(at: Self.at(3), recoveryPending: false))
        driver.publish(driver.machine.stopEnded(timedOut: false))
        driver.publish(driver.machine.runEnded(ClosedByUs(), at: Self.at(3)))
        #expect(driver.take() == ["starting 1", "ready 1", "failed run #0 stop", "stopped stopDecision"])

        var completed = Driver(try RestartPolicy(onCompletion: .finish))
        completed.publish(completed.machine.begin(at: Self.origin))
        completed.publish(completed.machine.startSucceeded(at: Self.at(0)))
        completed.publish(completed.machine.runEnded(nil, at: Self.at(3)))
        #expect(completed.take() == ["starting 1", "ready 1", "stopped completed"])
    }

    @Test("cancellation during a backoff: stopped, whether it rang the alarm or a wait was not armed yet")
    func cancellationDuringBackoff() throws {
        for wokenAt in [Self.at(1.5), nil] {
            var driver = Driver(try RestartPolicy(backoff: .constant(.seconds(10))))
            driver.publish(driver.machine.begin(at: Self.origin))
            driver.publish(driver.machine.startFailed(Transient(), at: Self.at(1)))
            #expect(
                driver.take() == [
                    "starting 1", "failed start #1 restart", "backingOff 10000 ms until 11000 ms, attempt 2",
                ])
            // Before the minimum restart delay too: a shutdown does not wait out the floor.
            driver.publish(driver.machine.backoffEnded(wokenAt: wokenAt, stopping: true))
            #expect(driver.take() == ["stopped requested"])
            #expect(driver.machine.phase == .finished)
        }
    }

    @Test("cancellation during a run: the instance is stopped, then stopped alone, without a failure")
    func cancellationDuringRun() throws {
        let policy = try RestartPolicy(
            intensity: RestartIntensity(maxRestarts: 1, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none),
            stableUptime: .seconds(5)
        )
        var driver = Driver(policy)
        driver.publish(driver.machine.begin(at: Self.origin))
        driver.publish(driver.machine.startSucceeded(at: Self.at(0)))
        // The run's end was the cancellation: not a recovery, not a failure.
        driver.publish(driver.machine.runReturned(at: Self.at(60), recoveryPending: true, stopping: true))
        driver.publish(driver.machine.stopEnded(timedOut: false))
        driver.publish(driver.machine.runEnded(CancellationError(), at: Self.at(60), stopping: true))
        #expect(driver.take() == ["starting 1", "ready 1", "stopped requested"])
        #expect(driver.machine.phase == .finished)
    }

    @Test("cancellation during a start: stopped alone, whether start() threw, returned, or was not called yet")
    func cancellationDuringStart() throws {
        var threw = Driver(.default)
        threw.publish(threw.machine.begin(at: Self.origin))
        threw.publish(threw.machine.startFailed(CancellationError(), at: Self.at(1), stopping: true))
        #expect(threw.take() == ["starting 1", "stopped requested"])

        // start() returned: the instance is stopped first, then stopped is published.
        var returned = Driver(.default)
        returned.publish(returned.machine.begin(at: Self.origin))
        let ready = returned.machine.startSucceeded(at: Self.at(1), stopping: true)
        guard case .stopAndFinish = ready else {
            Issue.record("served while stopping: \(ready)")
            return
        }
        returned.publish(returned.machine.stopEnded(timedOut: false))
        returned.publish(ready)
        #expect(returned.take() == ["starting 1", "stopped requested"])

        var never = Driver(.default)
        never.publish(never.machine.begin(at: Self.origin, stopping: true))
        #expect(never.take() == ["stopped requested"])
        #expect(never.machine.phase == .finished)
    }

    @Test("a stop that times out: stopTimedOut before the failure, or before stopped")
    func stopTimeout() throws {
        let policy = try RestartPolicy(backoff: .constant(.seconds(1)), stopTimeout: .seconds(2))
        var driver = Driver(policy)
        driver.publish(driver.machine.begin(at: Self.origin))
        driver.publish(driver.machine.startSucceeded(at: Self.at(0)))
        driver.publish(driver.machine.runReturned(at: Self.at(3), recoveryPending: false))
        driver.publish(driver.machine.stopEnded(timedOut: true))
        // The run ended at 3 s; the decision counts from there, not from the end of the stop.
        driver.publish(driver.machine.runEnded(Transient(), at: Self.at(3)))
        #expect(
            driver.take() == [
                "starting 1", "ready 1", "stopTimedOut 2000 ms", "failed run #1 restart",
                "backingOff 1000 ms until 4000 ms, attempt 2",
            ])

        var stopping = Driver(policy)
        stopping.publish(stopping.machine.begin(at: Self.origin))
        let ready = stopping.machine.startSucceeded(at: Self.at(0), stopping: true)
        stopping.publish(stopping.machine.stopEnded(timedOut: true))
        stopping.publish(ready)
        #expect(stopping.take() == ["starting 1", "stopTimedOut 2000 ms", "stopped requested"])
    }
}
