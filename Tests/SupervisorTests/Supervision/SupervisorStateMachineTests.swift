import Supervisor
import Testing

@testable import Supervisor

/// The state machine alone: no clock, no tasks; times are plain offsets.
@Suite("Supervisor state machine")
struct SupervisorStateMachineTests {
    static func machine(_ policy: RestartPolicy, seed: UInt64 = 1) -> SupervisorStateMachine {
        SupervisorStateMachine(policy: policy, generator: SplitMix64(seed: seed))
    }

    static func exponential() throws -> Backoff {
        try .exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(60))
    }

    /// The delay of a restart, or nil when the machine finished.
    static func delay(_ next: SupervisorStateMachine.FailureAction) -> Duration? {
        if case .restart(let restart) = next.outcome { restart.delay } else { nil }
    }

    /// How the machine finished, with a give-up's error as the runner makes it; nil when it restarts.
    static func reason(_ next: SupervisorStateMachine.FailureAction) -> SupervisorStopReason? {
        next.stopReason(supervisor: "test")
    }

    /// The attempt an action starts, or nil when it does not start one.
    static func attempt(_ action: SupervisorStateMachine.AttemptAction) -> Int? {
        if case .start(let attempt, _) = action { attempt } else { nil }
    }

    /// The time to recover a ready reports, if any.
    static func timeToRecover(_ action: SupervisorStateMachine.ReadyAction) -> Duration? {
        if case .serve(_, let timeToRecover, _) = action { timeToRecover } else { nil }
    }

    @Test("transient start failures back off on the schedule, attempt numbers counting up")
    func startFailuresFollowSchedule() throws {
        var machine = Self.machine(try RestartPolicy(backoff: Self.exponential()))
        #expect(Self.attempt(machine.begin(at: .zero)) == 1)
        var delays: [Duration] = []
        for expectedAttempt in 2...8 {
            let next = machine.startFailed(Transient(), at: .zero)
            let failure = try #require(next.failure)
            #expect(failure.decision == .restart && failure.phase == .start)
            guard case .restart(let restart) = next.outcome else {
                Issue.record("finished: \(next)")
                return
            }
            #expect(restart.attempt == expectedAttempt && !restart.enteredDegraded && restart.until == restart.delay)
            delays.append(restart.delay)
            #expect(Self.attempt(machine.backoffEnded()) == expectedAttempt)
        }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60].map { Duration.seconds($0) })
    }

    @Test("a stop decision finishes without an error; give-up finishes with a fatal SupervisorError")
    func stopAndGiveUp() throws {
        var machine = Self.machine(.default)
        _ = machine.begin(at: .zero)
        _ = machine.startSucceeded(at: .zero)
        let next = machine.runEnded(ClosedByUs(), at: .seconds(3))
        let failure = try #require(next.failure)
        #expect(failure.decision == .stop && failure.uptime == .seconds(3))
        guard case .stopDecision(let error)? = Self.reason(next) else {
            Issue.record("not a stop: \(next)")
            return
        }
        #expect(error is ClosedByUs)
        #expect(machine.phase == .finished)

        var fatal = Self.machine(.default)
        _ = fatal.begin(at: .zero)
        let gaveUp = fatal.startFailed(Fatal(), at: .zero)
        guard case .gaveUp(let supervisorError)? = Self.reason(gaveUp) else {
            Issue.record("did not give up: \(gaveUp)")
            return
        }
        #expect(supervisorError.code == .fatal && supervisorError.lastFailure is Fatal)
        #expect(supervisorError.phase == .start && supervisorError.failures == 1)
    }

    @Test("a restart-after hint is a floor by default: max(hint, schedule), and the schedule still advances")
    func hints() throws {
        var machine = Self.machine(try RestartPolicy(backoff: Self.exponential()))
        _ = machine.begin(at: .zero)
        #expect(Self.delay(machine.startFailed(Throttled(retryAfter: .seconds(42)), at: .zero)) == .seconds(42))
        _ = machine.backoffEnded()
        #expect(Self.delay(machine.startFailed(Transient(), at: .zero)) == .seconds(2))
        _ = machine.backoffEnded()
        // The schedule is at 4 s now: a shorter hint does not shorten it.
        #expect(Self.delay(machine.startFailed(Throttled(retryAfter: .seconds(1)), at: .zero)) == .seconds(4))
        _ = machine.backoffEnded()
        // Within the backoff's clamp: a hint of an hour under a 10-minute ceiling waits 10 minutes.
        var clamped = Self.machine(
            try RestartPolicy(backoff: Self.exponential().clamped(to: .seconds(1)...Duration.seconds(600))))
        _ = clamped.begin(at: .zero)
        #expect(Self.delay(clamped.startFailed(Throttled(retryAfter: .seconds(3_600)), at: .zero)) == .seconds(600))
    }

    @Test("hint policies: exact replaces the schedule; a spread floor stays within [hint, hint·(1 + f)]")
    func hintPolicies() throws {
        var exact = Self.machine(try RestartPolicy(backoff: .constant(.seconds(30)), hints: .exact))
        _ = exact.begin(at: .zero)
        #expect(Self.delay(exact.startFailed(Throttled(retryAfter: .seconds(2)), at: .zero)) == .seconds(2))

        // 1,000 clients told "retry after 5 s": with a spread of 0.2 they come back over [5 s, 6 s), not at once.
        var delays: [Duration] = []
        for seed in 1...1_000 as ClosedRange<UInt64> {
            var client = Self.machine(
                try RestartPolicy(backoff: .constant(.milliseconds(100)), hints: .floor(spread: 0.2)), seed: seed)
            _ = client.begin(at: .zero)
            delays.append(Self.delay(client.startFailed(Throttled(retryAfter: .seconds(5)), at: .zero))!)
        }
        #expect(delays.allSatisfy { $0 >= .seconds(5) && $0 < .seconds(6) })
        let seconds = delays.map(\.inSeconds)
        // Uniform over the second: each fifth of it holds about a fifth of the clients (200 ± 60).
        for fifth in 0..<5 {
            let low = 5 + Double(fifth) * 0.2
            let count = seconds.filter { $0 >= low && $0 < low + 0.2 }.count
            #expect((140...260).contains(count), "fifth \(fifth): \(count)")
        }
        #expect(throws: ConfigurationError.self) { try HintPolicy.floor(spread: 1.5) }
        #expect(throws: ConfigurationError.self) { try HintPolicy.floor(spread: .nan) }
    }

    @Test("degraded, a hint longer than the probe interval holds: max(probe interval, hint)")
    func degradedHints() throws {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 1, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none)
        )
        var machine = Self.machine(policy)
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        _ = machine.backoffEnded()
        guard case .restart(let probe) = machine.startFailed(Transient(), at: .seconds(1)).outcome,
            probe.enteredDegraded
        else {
            Issue.record("did not degrade")
            return
        }
        #expect(probe.delay == .seconds(30))
        _ = machine.backoffEnded()
        #expect(
            Self.delay(machine.startFailed(Throttled(retryAfter: .seconds(90)), at: .seconds(31))) == .seconds(90))
        _ = machine.backoffEnded()
        #expect(
            Self.delay(machine.startFailed(Throttled(retryAfter: .seconds(5)), at: .seconds(121))) == .seconds(30))
    }

    @Test("no restart sooner than the minimum restart delay, whatever the backoff or a hint says")
    func minimumRestartDelay() throws {
        var standard = Self.machine(try RestartPolicy(backoff: .constant(.zero)))
        _ = standard.begin(at: .zero)
        #expect(Self.delay(standard.startFailed(Transient(), at: .zero)) == .milliseconds(5))
        _ = standard.backoffEnded()
        #expect(Self.delay(standard.startFailed(Throttled(retryAfter: .seconds(-1)), at: .zero)) == .milliseconds(5))

        var floor = Self.machine(try RestartPolicy(backoff: .constant(.zero), minimumRestartDelay: .milliseconds(50)))
        _ = floor.begin(at: .zero)
        #expect(Self.delay(floor.startFailed(Transient(), at: .zero)) == .milliseconds(50))

        var zero = Self.machine(try RestartPolicy(backoff: .constant(.zero), minimumRestartDelay: .zero))
        _ = zero.begin(at: .zero)
        #expect(Self.delay(zero.startFailed(Transient(), at: .zero)) == .zero)
        #expect(throws: ConfigurationError.self) { try RestartPolicy(minimumRestartDelay: .milliseconds(-1)) }
        #expect(throws: ConfigurationError.self) { try RestartPolicy(maxAttempts: 0) }
        #expect(throws: ConfigurationError.self) { try RestartPolicy(stopTimeout: .zero) }
    }

    @Test("time to recover is reported once per failing streak, at its first ready")
    func timeToRecoverOncePerStreak() throws {
        var machine = Self.machine(try RestartPolicy(backoff: .constant(.seconds(1)), stableUptime: .seconds(60)))
        _ = machine.begin(at: .zero)
        #expect(Self.timeToRecover(machine.startSucceeded(at: .zero)) == nil)  // no streak yet
        _ = machine.runEnded(Transient(), at: .seconds(100))  // stable: no streak before this failure
        _ = machine.backoffEnded()
        _ = machine.startFailed(Transient(), at: .seconds(101))
        _ = machine.backoffEnded()
        // The streak began at 100.
        #expect(Self.timeToRecover(machine.startSucceeded(at: .seconds(102))) == .seconds(2))
        // Flapping inside the same streak: ready again, not reported again.
        _ = machine.runEnded(Transient(), at: .seconds(105))
        _ = machine.backoffEnded()
        #expect(Self.timeToRecover(machine.startSucceeded(at: .seconds(106))) == nil)
        // A stable run ends the streak; the next streak is reported again.
        _ = machine.runEnded(Transient(), at: .seconds(200))
        _ = machine.backoffEnded()
        #expect(Self.timeToRecover(machine.startSucceeded(at: .seconds(201))) == .seconds(1))
    }

    @Test("a run that stayed up for the stable uptime resets the schedule; a shorter one does not")
    func stableUptimeResets() throws {
        var machine = Self.machine(try RestartPolicy(backoff: Self.exponential(), stableUptime: .seconds(30)))
        _ = machine.begin(at: .zero)
        var now = Duration.zero
        for _ in 0..<3 {
            _ = machine.startFailed(Transient(), at: now)
            _ = machine.backoffEnded()
        }
        #expect(machine.failures == 3)
        now += .seconds(10)
        #expect(Self.timeToRecover(machine.startSucceeded(at: now)) == .seconds(10))  // the streak began at 0
        // Up 29 s: not stable, the schedule goes on (4th delay: 8 s).
        let shortNext = machine.runEnded(Transient(), at: now + .seconds(29))
        let short = try #require(shortNext.failure)
        #expect(short.failures == 4 && Self.delay(shortNext) == .seconds(8))
        #expect(Self.attempt(machine.backoffEnded()) == 5)
        now += .seconds(100)
        _ = machine.startSucceeded(at: now)
        // Up exactly 30 s: stable, the next failure is the first of a new streak.
        let stableNext = machine.runEnded(Transient(), at: now + .seconds(30))
        let stable = try #require(stableNext.failure)
        #expect(stable.failures == 1 && Self.delay(stableNext) == .seconds(1))
        #expect(Self.attempt(machine.backoffEnded()) == 2)
        #expect(machine.streakStartedAt == now + .seconds(30))
    }

    @Test("intensity with give-up: the restart beyond R within T gives up; slower restarts never trip")
    func intensityGivesUp() throws {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 3, within: .seconds(10))
        )
        var machine = Self.machine(policy)
        _ = machine.begin(at: .zero)
        for second in 0..<3 {
            #expect(Self.delay(machine.startFailed(Transient(), at: .seconds(second))) == .seconds(1))
            _ = machine.backoffEnded()
        }
        #expect(Self.reason(machine.startFailed(Transient(), at: .seconds(9)))?.gaveUpCode == .intensityExceeded)

        var slow = Self.machine(policy)
        _ = slow.begin(at: .zero)
        for restart in 0..<100 {
            // One restart every 4 s: at most 3 in any 10 s window.
            let next = slow.startFailed(Transient(), at: .seconds(restart * 4))
            #expect(Self.delay(next) != nil, "tripped at restart \(restart)")
            _ = slow.backoffEnded()
        }
    }

    @Test("intensity with degrade: probes at the slow interval, and a stable run returns to normal")
    func intensityDegrades() throws {
        let policy = try RestartPolicy(
            backoff: Self.exponential(),
            intensity: RestartIntensity(maxRestarts: 2, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none),
            stableUptime: .seconds(5)
        )
        var machine = Self.machine(policy)
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        _ = machine.backoffEnded()
        _ = machine.startFailed(Transient(), at: .seconds(1))
        _ = machine.backoffEnded()
        let tripped = machine.startFailed(Transient(), at: .seconds(3))
        guard case .restart(let restart) = tripped.outcome else {
            Issue.record("gave up instead of degrading: \(tripped)")
            return
        }
        #expect(restart.delay == .seconds(30) && restart.enteredDegraded && machine.isDegraded)
        _ = machine.backoffEnded()
        // Still degraded: the next failures probe at the same interval, without entering again.
        guard case .restart(let probe) = machine.startFailed(Transient(), at: .seconds(33)).outcome else {
            Issue.record("finished while degraded")
            return
        }
        #expect(probe.delay == .seconds(30) && !probe.enteredDegraded)
        _ = machine.backoffEnded()
        _ = machine.startSucceeded(at: .seconds(63))
        // A stable run (≥ 5 s): normal again, schedule from the start, restart window cleared.
        let normal = machine.runEnded(Transient(), at: .seconds(70))
        #expect(Self.delay(normal) == .seconds(1) && !machine.isDegraded)
        _ = machine.backoffEnded()
        #expect(Self.delay(machine.startFailed(Transient(), at: .seconds(71))) == .seconds(2))
    }

    @Test("budgets from the first failure of the streak: attempts (calls), failing duration, a limited backoff")
    func budgets() throws {
        // maxAttempts counts starts: three starts, two restarts, then the third failure gives up.
        var attempts = Self.machine(try RestartPolicy(backoff: .constant(.seconds(1)), maxAttempts: 3))
        #expect(Self.attempt(attempts.begin(at: .zero)) == 1)
        for _ in 0..<2 {
            #expect(Self.delay(attempts.startFailed(Transient(), at: .zero)) != nil)
            _ = attempts.backoffEnded()
        }
        #expect(Self.reason(attempts.startFailed(Transient(), at: .zero))?.gaveUpCode == .attemptsExhausted)

        let failingPolicy = try RestartPolicy(backoff: .constant(.seconds(10)), maxFailingDuration: .seconds(60))
        var failing = Self.machine(failingPolicy)
        _ = failing.begin(at: .zero)
        for second in stride(from: 100, to: 160, by: 10) {
            #expect(Self.delay(failing.startFailed(Transient(), at: .seconds(second))) != nil)
            _ = failing.backoffEnded()
        }
        #expect(Self.reason(failing.startFailed(Transient(), at: .seconds(160)))?.gaveUpCode == .failingTooLong)

        var limited = Self.machine(try RestartPolicy(backoff: Backoff.constant(.seconds(1)).limited(toRetries: 2)))
        _ = limited.begin(at: .zero)
        _ = limited.startFailed(Transient(), at: .zero)
        _ = limited.backoffEnded()
        _ = limited.startFailed(Transient(), at: .zero)
        _ = limited.backoffEnded()
        #expect(Self.reason(limited.startFailed(Transient(), at: .zero))?.gaveUpCode == .attemptsExhausted)
    }

    @Test("start failures and deaths after ready can have their own backoff and classifier")
    func phasesTreatedApart() throws {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(7)),
            startBackoff: .constant(.seconds(2)),
            classifier: .always(.restart),
            startClassifier: .type(Fatal.self, .giveUp).orElse(.always(.restart))
        )
        var machine = Self.machine(policy)
        _ = machine.begin(at: .zero)
        #expect(Self.delay(machine.startFailed(Transient(), at: .zero)) == .seconds(2))
        _ = machine.backoffEnded()
        _ = machine.startSucceeded(at: .seconds(2))
        // The run classifier restarts even a Fatal; the run backoff applies.
        let next = machine.runEnded(Fatal(), at: .seconds(3))
        let failure = try #require(next.failure)
        #expect(failure.phase == .run && Self.delay(next) == .seconds(7))
        _ = machine.backoffEnded()
        #expect(Self.reason(machine.startFailed(Fatal(), at: .seconds(10)))?.gaveUpCode == .fatal)
    }

    @Test("a normal return restarts by default and finishes under .finish")
    func completion() throws {
        var permanent = Self.machine(try RestartPolicy(backoff: .constant(.seconds(1))))
        _ = permanent.begin(at: .zero)
        _ = permanent.startSucceeded(at: .zero)
        let next = permanent.runEnded(nil, at: .seconds(1))
        let failure = try #require(next.failure)
        #expect(failure.error is ResourceCompleted && Self.delay(next) == .seconds(1))

        var transient = Self.machine(try RestartPolicy(onCompletion: .finish))
        _ = transient.begin(at: .zero)
        _ = transient.startSucceeded(at: .zero)
        guard case .completed? = Self.reason(transient.runEnded(nil, at: .seconds(1))) else {
            Issue.record("did not complete")
            return
        }
    }

    @Test("100,000 random events: valid transitions, delays within bounds, no trap", arguments: [1 as UInt64, 2, 3])
    func randomWalk(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let policy = try RestartPolicy(
            backoff: .exponential(initial: .milliseconds(10), maximum: .seconds(5)).jitter(.full),
            startBackoff: .decorrelated(base: .milliseconds(5), maximum: .seconds(2)),
            intensity: RestartIntensity(maxRestarts: 5, within: .seconds(10)),
            escalation: .degrade(probeInterval: .seconds(20), probeJitter: .none),
            stableUptime: .seconds(3)
        )
        var machine = Self.machine(policy, seed: seed)
        var now = Duration.zero
        var finished = 0
        var degradedEntries = 0
        _ = machine.begin(at: .zero)
        for _ in 0..<100_000 {
            now += .milliseconds(Int64.random(in: 0...1_500, using: &random))
            let next: SupervisorStateMachine.FailureAction
            let hint = Duration.milliseconds(Int64.random(in: 0...50_000, using: &random))
            let error: any Error =
                switch random.next() % 20 {
                case 0: Fatal()
                case 1: ClosedByUs()
                case 2: Throttled(retryAfter: hint)
                default: Transient()
                }
            // What really reached the machine: a run may return instead of throwing `error`.
            var hinted = error is Throttled
            if random.next() % 2 == 0 {
                next = machine.startFailed(error, at: now)
            } else {
                _ = machine.startSucceeded(at: now)
                now += .milliseconds(Int64.random(in: 0...4_000, using: &random))
                let returned = random.next() % 10 == 0
                if returned { hinted = false }
                next = machine.runEnded(returned ? nil : error, at: now)
            }
            switch next.outcome {
            case .restart(let restart):
                let (delay, until, attempt, entered) = (
                    restart.delay, restart.until, restart.attempt, restart.enteredDegraded
                )
                #expect(delay >= RestartPolicy.standardMinimumRestartDelay && delay <= .seconds(50))
                #expect(until == now + delay && attempt == machine.failures + 1)
                if entered { degradedEntries += 1 }
                // Degraded: the probe interval, or a longer hint.
                if machine.isDegraded { #expect(delay == (hinted ? max(.seconds(20), hint) : .seconds(20))) }
                if hinted { #expect(delay >= hint) }
                #expect(Self.attempt(machine.backoffEnded()) == attempt)
            case .finish, .giveUp:
                #expect(machine.phase == .finished)
                finished += 1
                machine = Self.machine(policy, seed: random.next())
                _ = machine.begin(at: .zero)
            }
        }
        #expect(finished > 1_000 && degradedEntries > 100, "finished \(finished), degraded \(degradedEntries)")
    }
}

extension SupervisorStateMachine.Restart {
    /// Whether this failure tripped the restart intensity and entered the degraded state.
    var enteredDegraded: Bool {
        if case .enteredDegraded = kind { true } else { false }
    }
}
