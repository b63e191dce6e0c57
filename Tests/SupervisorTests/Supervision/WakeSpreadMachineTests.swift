import Clocks
import Supervisor
import Testing

@testable import Supervisor

/// Wake-ups with a spread, on the state machine alone: where the woken start is drawn, and how a burst of wake-ups
/// counts toward the restart intensity and `maxAttempts`.
@Suite("Wake spread: the state machine")
struct WakeSpreadMachineTests {
    static func machine(_ policy: RestartPolicy, seed: UInt64 = 1) -> SupervisorStateMachine {
        SupervisorStateMachine(policy: policy, generator: SplitMix64(seed: seed))
    }

    /// The instant a woken backoff waits until before its start; `wokenAt` itself when it starts at once.
    static func startInstant(_ action: SupervisorStateMachine.AttemptAction, wokenAt: Duration) -> Duration? {
        switch action {
        case .waitOut(let until): until
        case .start: wokenAt
        case .finish: nil
        }
    }

    @Test("a woken start is drawn within [wake, wake + spread], never before the floor, never after the backoff")
    func startWithinSpread() throws {
        let policy = try RestartPolicy(backoff: .constant(.seconds(60)))
        var instants: [Duration] = []
        for seed in UInt64(0)..<500 {
            var machine = Self.machine(policy, seed: seed)
            _ = machine.begin(at: .zero)
            _ = machine.startFailed(Transient(), at: .zero)
            let woken = machine.backoffEnded(wokenAt: .seconds(1), spread: .milliseconds(100))
            instants.append(try #require(Self.startInstant(woken, wokenAt: .seconds(1))))
        }
        #expect(instants.allSatisfy { $0 >= .seconds(1) && $0 <= .milliseconds(1_100) }, "\(instants.max()!)")
        // Drawn, not fixed: 500 supervisors start at (nearly) 500 instants.
        #expect(Set(instants).count > 490)

        // Woken 1 ms after the failure: never before the minimum restart delay (5 ms).
        var early = Self.machine(policy)
        _ = early.begin(at: .zero)
        _ = early.startFailed(Transient(), at: .zero)
        let floor = try #require(
            Self.startInstant(
                early.backoffEnded(wokenAt: .milliseconds(1), spread: .zero), wokenAt: .milliseconds(1)))
        #expect(floor == RestartPolicy.standardMinimumRestartDelay)

        // Woken 50 ms before the backoff's end with a 10 s spread: never after that end.
        for seed in UInt64(0)..<100 {
            var late = Self.machine(policy, seed: seed)
            _ = late.begin(at: .zero)
            _ = late.startFailed(Transient(), at: .zero)
            let wokenAt = Duration.milliseconds(59_950)
            let instant = try #require(
                Self.startInstant(late.backoffEnded(wokenAt: wokenAt, spread: .seconds(10)), wokenAt: wokenAt))
            #expect(instant >= wokenAt && instant <= .seconds(60))
        }
    }

    @Test("with a spread, a wake-up still waits for the restart budget's tokens")
    func budgetFloorHolds() throws {
        let clock = TestClock()
        // One token, then one every 10 s: the second restart waits 10 s for its token.
        let budget = try RestartBudget(capacity: 1, refillPerSecond: 0.1, clock: clock)
        let policy = try RestartPolicy(backoff: .constant(.seconds(1)), budget: budget)
        var machine = Self.machine(policy)
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        _ = machine.backoffEnded()
        guard case .restart(let restart) = machine.startFailed(Transient(), at: .seconds(1)).outcome,
            let budgetUntil = restart.budgetUntil
        else {
            Issue.record("the second restart did not wait for the budget")
            return
        }
        let wokenAt = Duration.seconds(2)
        let instant = try #require(
            Self.startInstant(machine.backoffEnded(wokenAt: wokenAt, spread: .milliseconds(100)), wokenAt: wokenAt))
        #expect(instant >= budgetUntil, "started at \(instant), tokens at \(budgetUntil)")
    }

    /// Fails attempt after attempt, each woken `step` after the last failure, for `wakes` wake-ups; returns the
    /// machine's failure count and how it ended (nil: still restarting).
    static func storm(
        _ policy: RestartPolicy, wakes: Int, step: Duration
    ) -> (failures: Int, stop: SupervisorStopReason?) {
        var machine = Self.machine(policy)
        _ = machine.begin(at: .zero)
        var now = Duration.zero
        var action = machine.startFailed(Transient(), at: now)
        for _ in 0..<wakes {
            guard case .restart = action.outcome else { break }
            now += step
            var woken = machine.backoffEnded(wokenAt: now, spread: .milliseconds(100))
            if case .waitOut(let until) = woken {
                now = until
                woken = machine.backoffEnded()
            }
            guard case .start = woken else { break }
            action = machine.startFailed(Transient(), at: now)
        }
        return (machine.failures, action.stopReason(supervisor: "storm"))
    }

    @Test("the woken attempts of one burst count once; a wake-up after the burst window counts again")
    func burstCountsOnce() throws {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(10)),
            intensity: RestartIntensity(maxRestarts: 3, within: .seconds(60)),
            maxAttempts: 4
        )
        // Wake-ups 1 ms after each woken start failed: ten restarts, well within the 1 s window (each start comes
        // at most 100 ms after its wake-up).
        let burst = Self.storm(policy, wakes: 10, step: .milliseconds(1))
        #expect(burst.stop == nil, "gave up: \(String(describing: burst.stop))")
        // The first failure and the burst's one.
        #expect(burst.failures == 2)
        // Wake-ups 2 s apart: every one opens a burst of its own, so each counts, and the limits trip.
        let apart = Self.storm(policy, wakes: 20, step: .seconds(2))
        #expect(apart.stop?.isGaveUp == true, "\(String(describing: apart.stop))")
        // A window of zero counts every woken failure.
        let everyOne = try RestartPolicy(
            backoff: .constant(.seconds(10)),
            intensity: RestartIntensity(maxRestarts: 3, within: .seconds(60)),
            maxAttempts: 4,
            wakeBurstWindow: .zero
        )
        #expect(Self.storm(everyOne, wakes: 20, step: .milliseconds(1)).stop?.isGaveUp == true)
    }

    @Test("the wake burst window is validated: zero or more, at most the longest delay")
    func burstWindowValidated() throws {
        #expect(throws: ConfigurationError.self) { try RestartPolicy(wakeBurstWindow: .milliseconds(-1)) }
        #expect(throws: ConfigurationError.self) {
            try RestartPolicy(wakeBurstWindow: Backoff.longestDelay + .seconds(1))
        }
        #expect(try RestartPolicy(wakeBurstWindow: .zero).wakeBurstWindow == .zero)
        #expect(RestartPolicy.default.wakeBurstWindow == .seconds(1))
        #expect("\(try RestartPolicy(wakeBurstWindow: .zero))".contains("wake-ups counted once per"))
    }

    @Test("an uncounted woken failure goes back to the backoff its wake-up cut short")
    func uncountedResumesBackoff() throws {
        var machine = Self.machine(try RestartPolicy(backoff: .constant(.seconds(10))))
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        // The first woken failure counts: a new 10 s backoff from it.
        _ = machine.backoffEnded(wokenAt: .seconds(1))
        guard case .restart(let counted) = machine.startFailed(Transient(), at: .seconds(1)).outcome else {
            Issue.record("finished")
            return
        }
        #expect(counted.until == .seconds(11) && machine.failures == 2)
        // The second, in the same burst, does not: its backoff ends where the counted one's does.
        _ = machine.backoffEnded(wokenAt: .milliseconds(1_500))
        guard case .restart(let uncounted) = machine.startFailed(Transient(), at: .milliseconds(1_500)).outcome
        else {
            Issue.record("finished")
            return
        }
        #expect(uncounted.until == .seconds(11) && machine.failures == 2 && uncounted.attempt == 3)
    }
}

extension SupervisorStopReason {
    /// Whether supervision gave up.
    var isGaveUp: Bool {
        if case .gaveUp = self { true } else { false }
    }
}
