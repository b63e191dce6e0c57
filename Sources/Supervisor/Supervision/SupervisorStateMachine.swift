/// The decisions of a supervisor, without I/O, clocks or tasks: events in, what to do next out.
///
/// The runner (`ResourceSupervisor`) reports what happened, with the time as an offset from a fixed origin (its
/// timeline's; only differences matter here), and carries out what the machine answers. Everything that depends on history (the failing
/// streak, the backoff schedules, the restart window, the degraded state, the budgets) lives here, so it is
/// tested exhaustively with plain values.
///
/// ```
///            begin                 startSucceeded
///   idle ───────────► starting ─────────────────► running
///                       ▲  │ startFailed              │ runFailed / runCompleted
///                       │  ▼                          ▼
///         backoffEnded  │  ◄──────── backingOff ◄─────┤ (restart)
///                       └──────────┘                  │ (stop, give up, shutdown)
///                                                     ▼
///                                                  finished
/// ```
struct SupervisorStateMachine {
    /// What the runner must do after a failure.
    enum Next: Sendable {
        /// Wait `delay` (until the instant `until`), then start attempt `attempt`. `degraded` is true when this
        /// failure tripped the restart intensity and the supervisor has just entered the degraded state.
        case restart(delay: Duration, until: Duration, attempt: Int, enteredDegraded: Bool)
        /// Stop supervising, for a reason other than giving up.
        case finish(SupervisorStopReason)
        /// Give up, for `code`, after `failure`. The runner makes the ``SupervisorError``: it knows the
        /// supervisor's name, which the machine does not keep.
        case giveUp(SupervisorError.Code, SupervisorFailure)
    }

    /// What the machine is waiting for.
    enum Phase: Equatable, Sendable {
        case idle
        case starting
        case running(readyAt: Duration)
        case backingOff(until: Duration)
        case finished
    }

    // Fields in an order that leaves little padding: a supervisor keeps the machine inline.
    let policy: RestartPolicy
    // Positions in `policy.backoff` and `policy.startBackoff` (when there is one).
    private var runSchedule: BackoffCursor
    private var startSchedule: BackoffCursor
    private var window = RestartWindow()
    /// Failures since the last stable run (or the start); the next start is attempt `failures + 1`.
    private(set) var failures = 0
    /// When the current failing streak began; meaningful while `failures > 0` (see `streakStartedAt`).
    private var streakStart = Duration.zero
    /// `phase`'s instant: when the run became ready, or when the backoff ends.
    private var phaseInstant = Duration.zero
    /// What the machine waits for. Stored as a kind and an instant rather than as `Phase`, whose payloads would
    /// cost the machine 7 bytes of padding: a supervisor keeps the machine inline.
    private(set) var phase: Phase {
        get {
            switch phaseKind {
            case .idle: .idle
            case .starting: .starting
            case .running: .running(readyAt: phaseInstant)
            case .backingOff: .backingOff(until: phaseInstant)
            case .finished: .finished
            }
        }
        set {
            switch newValue {
            case .idle: phaseKind = .idle
            case .starting: phaseKind = .starting
            case .running(let readyAt): (phaseKind, phaseInstant) = (.running, readyAt)
            case .backingOff(let until): (phaseKind, phaseInstant) = (.backingOff, until)
            case .finished: phaseKind = .finished
            }
        }
    }
    private var generator: RandomSource
    /// Whether the restart intensity tripped and the supervisor probes at the slow interval.
    private(set) var isDegraded = false
    /// Whether the current failing streak's recovery (its first ready) was reported: once per streak.
    private var recoveryReported = false
    private var phaseKind = PhaseKind.idle

    private enum PhaseKind: UInt8 {
        case idle, starting, running, backingOff, finished
    }

    /// When the current failing streak began, if one is going on: a streak starts with its first failure and
    /// ends when a stable run resets `failures`.
    var streakStartedAt: Duration? { failures > 0 ? streakStart : nil }

    init(policy: RestartPolicy, generator: any RandomNumberGenerator) {
        self.policy = policy
        self.generator = RandomSource(generator)
        self.runSchedule = BackoffCursor(policy.backoff)
        self.startSchedule = BackoffCursor(policy.startBackoff ?? policy.backoff)
    }

    /// The attempt number of the next (or current) start.
    var attempt: Int { failures == .max ? .max : failures + 1 }

    /// Supervision begins: start attempt 1.
    mutating func begin() -> Int {
        precondition(phase == .idle, "begin() is called once")
        phase = .starting
        return attempt
    }

    /// `start()` returned. Returns how long the failing streak lasted until this start, for the time-to-recover
    /// metric: for the first ready of a streak only, so a resource that flaps within one streak is counted once.
    mutating func startSucceeded(at now: Duration) -> Duration? {
        precondition(phase == .starting, "startSucceeded in \(phase)")
        phase = .running(readyAt: now)
        guard let since = streakStartedAt, !recoveryReported else { return nil }
        recoveryReported = true
        return now - since
    }

    /// When the current run counts as stable, if the supervisor is degraded and running: the instant the runner
    /// reports ``SupervisorEvent/recovered`` at, since the degraded state ends with that run.
    var degradedRunStableAt: Duration? {
        guard isDegraded, case .running(let readyAt) = phase else { return nil }
        return readyAt + policy.stableUptime
    }

    /// `start()` threw `error`.
    mutating func startFailed(_ error: consuming any Error, at now: Duration) -> (SupervisorFailure, Next) {
        precondition(phaseKind == .starting, "startFailed in \(phase)")
        return failed(error, phase: .start, uptime: nil, at: now)
    }

    /// `run(_:)` threw `error`, or returned (`error == nil`), and the instance has been stopped.
    mutating func runEnded(_ error: consuming (any Error)?, at now: Duration) -> (SupervisorFailure, Next) {
        guard case .running(let readyAt) = phase else { preconditionFailure("runEnded in \(phase)") }
        let uptime = now - readyAt
        // Measured from ready, not from now: the stop that came between does not make a run stable.
        if uptime >= policy.stableUptime { forgetStreak() }
        guard let error else {
            if policy.onCompletion == .finish {
                phase = .finished
                let failure = SupervisorFailure(
                    error: ResourceCompleted(),
                    phase: .run,
                    decision: .stop,
                    failures: failures,
                    uptime: uptime
                )
                return (failure, .finish(.completed))
            }
            return failed(ResourceCompleted(), phase: .run, uptime: uptime, decision: .restart, at: now)
        }
        return failed(error, phase: .run, uptime: uptime, at: now)
    }

    /// The backoff ended (elapsed, or cut short by a wake-up): start the next attempt.
    mutating func backoffEnded() -> Int {
        guard phaseKind == .backingOff else { preconditionFailure("backoffEnded in \(phase)") }
        phaseKind = .starting
        return attempt
    }

    /// Shutdown was requested; whatever the phase, supervision is over once the instance (if any) is stopped.
    mutating func shutdown() -> SupervisorStopReason {
        phase = .finished
        return .requested
    }

    @inline(__always)  // one decision per failure, without the calls between its steps
    private mutating func failed(
        _ error: consuming any Error,
        phase failurePhase: FailurePhase,
        uptime: Duration?,
        decision: FailureDecision? = nil,
        at now: Duration
    ) -> (SupervisorFailure, Next) {
        let decision = decision ?? policy.classify(error, in: failurePhase)
        // Every failure counts, the fatal one too (a stop decision is not a failure).
        if decision != .stop {
            if failures == 0 { streakStart = now }
            failures = failures == .max ? .max : failures + 1
        }
        let failure = SupervisorFailure(
            error: error,
            phase: failurePhase,
            decision: decision,
            failures: failures,
            uptime: uptime
        )
        let next = decide(failure, at: now)
        switch next {
        case .finish, .giveUp: phase = .finished
        case .restart: break
        }
        return (failure, next)
    }

    @inline(__always)  // one decision per failure, without the calls between its steps
    private mutating func decide(_ failure: SupervisorFailure, at now: Duration) -> Next {
        switch failure.decision {
        case .stop:
            return .finish(.stopDecision(failure.error))
        case .giveUp:
            return giveUp(.fatal, failure)
        default:
            break
        }
        // `failures` consecutive starts failed; the next would be attempt `failures + 1`.
        if let maxAttempts = policy.maxAttempts, failures >= maxAttempts {
            return giveUp(.attemptsExhausted, failure)
        }
        if let limit = policy.maxFailingDuration, let since = streakStartedAt, now - since >= limit {
            return giveUp(.failingTooLong, failure)
        }
        var enteredDegraded = false
        if !isDegraded, let intensity = policy.intensity, !window.admit(at: now, within: intensity) {
            guard policy.escalation.probeInterval != nil else {
                return giveUp(.intensityExceeded, failure)
            }
            isDegraded = true
            enteredDegraded = true
        }
        var delay: Duration
        if isDegraded, let probeInterval = policy.escalation.probeInterval {
            // Degraded: the slow probe replaces the schedule, which starts over once a run is stable; a longer
            // hint still holds.
            delay = failure.decision.hint.map { max(probeInterval, min($0, Backoff.longestDelay)) } ?? probeInterval
        } else {
            // The schedule advances even when a hint decides the delay, so its retry limit still counts.
            guard let scheduled = nextDelay(for: failure.phase) else {
                return giveUp(.attemptsExhausted, failure)
            }
            let backoff = failure.phase == .start ? policy.startBackoff ?? policy.backoff : policy.backoff
            delay =
                failure.decision == .restartNow
                ? .zero
                : policy.hints.delay(
                    hint: failure.decision.hint,
                    scheduled: scheduled,
                    within: backoff,
                    using: &generator
                )
        }
        // The floor: a resource that fails at once cannot restart in a tight loop.
        if delay < policy.minimumRestartDelay { delay = policy.minimumRestartDelay }
        let until = now + delay
        phase = .backingOff(until: until)
        return .restart(delay: delay, until: until, attempt: attempt, enteredDegraded: enteredDegraded)
    }

    @inline(__always)  // one decision per failure, without the calls between its steps
    private mutating func nextDelay(for failurePhase: FailurePhase) -> Duration? {
        if failurePhase == .start, let startBackoff = policy.startBackoff {
            return startSchedule.next(startBackoff, using: &generator)
        }
        return runSchedule.next(policy.backoff, using: &generator)
    }

    private func giveUp(_ code: SupervisorError.Code, _ failure: SupervisorFailure) -> Next {
        .giveUp(code, failure)
    }

    /// A stable run ends the failing streak: schedules, budgets and the degraded state start over.
    private mutating func forgetStreak() {
        failures = 0
        recoveryReported = false
        runSchedule.reset(policy.backoff)
        startSchedule.reset(policy.startBackoff ?? policy.backoff)
        if isDegraded {
            isDegraded = false
            window.removeAll()
        }
    }
}
