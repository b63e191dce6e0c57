/// The decisions of a supervisor, without I/O, clocks or tasks: what happened in, what to publish and what to do
/// next out.
///
/// The runner (`ResourceSupervisor`) reports each step with the time as an offset from a fixed origin (its
/// timeline's; only differences matter here) and whether supervision is stopping, and carries out the action the
/// machine answers: the events to publish, in order, with the state they leave, and the next thing to do (start,
/// wait, stop the instance, finish). Everything that depends on history (the failing streak, the backoff schedules,
/// the restart window, the degraded state, the budgets) and every choice of what follows a step lives here, so the
/// event order is tested with plain values (`SupervisorStateMachineTests`).
///
/// ```swift
/// var machine = SupervisorStateMachine(policy: policy, generator: SplitMix64(seed: 1))
/// guard case .start(let attempt, _) = machine.begin(at: .zero) else { return }  // publish starting, call start()
/// switch machine.startFailed(error, at: .seconds(1)).outcome {
/// case .restart(let restart): print(restart.delay)  // publish its events, wait, then backoffEnded(wokenAt:)
/// case .finish, .giveUp: break  // publish its events: supervision is over
/// }
/// ```
///
/// ```
///            begin                 startSucceeded
///   idle ───────────► starting ─────────────────► running
///                       ▲  │ startFailed              │ runReturned, stopEnded, runEnded
///                       │  ▼                          ▼
///         backoffEnded  │  ◄──────── backingOff ◄─────┤ (restart)
///                       └──────────┘                  │ (stop, give up, stopping)
///                                                     ▼
///                                                  finished
/// ```
struct SupervisorStateMachine {
    /// What the machine is waiting for.
    enum Phase: Equatable, Sendable {
        case idle
        case starting
        case running(readyAt: Duration)
        /// Waiting out a backoff; a wake-up does not start the next attempt before `wakeFloor` (the failure plus
        /// the minimum restart delay).
        case backingOff(wakeFloor: Duration)
        case finished
    }

    // Fields in an order that leaves little padding: a supervisor keeps the machine inline (see the header of
    // `ResourceSupervisor.swift`).
    let policy: RestartPolicy
    // Positions in `policy.backoff` and `policy.startBackoff` (when there is one).
    private var runSchedule: BackoffCursor
    private var startSchedule: BackoffCursor
    private var window = RestartWindow()
    /// Failures since the last stable run (or the start); the next start is attempt `failures + 1`.
    private(set) var failures = 0
    /// When the current failing streak began; meaningful while `failures > 0` (see `streakStartedAt`).
    private var streakStart = Duration.zero
    /// `phase`'s instant: when the run became ready, or the backoff's wake floor.
    private var phaseInstant = Duration.zero
    /// When the pending backoff ends by itself: a wake-up's start is drawn no later than this.
    private var backoffEnd = Duration.zero
    /// When the current burst of wake-ups began (see `noteWake(at:)`); meaningful while `inBurst`.
    private var burstStart = Duration.zero
    /// Where the events' instants count from: the timeline's instant of `begin(at:)`, in nanoseconds.
    private(set) var originNanoseconds: Int64 = 0
    /// What the machine waits for, stored as `phaseKind` and `phaseInstant` (less padding than `Phase` itself).
    private(set) var phase: Phase {
        get {
            switch phaseKind {
            case .idle: .idle
            case .starting: .starting
            case .running: .running(readyAt: phaseInstant)
            case .backingOff: .backingOff(wakeFloor: phaseInstant)
            case .finished: .finished
            }
        }
        set {
            switch newValue {
            case .idle: phaseKind = .idle
            case .starting: phaseKind = .starting
            case .running(let readyAt): (phaseKind, phaseInstant) = (.running, readyAt)
            case .backingOff(let wakeFloor): (phaseKind, phaseInstant) = (.backingOff, wakeFloor)
            case .finished: phaseKind = .finished
            }
        }
    }
    private var generator: RandomSource
    /// Whether the restart intensity tripped and the supervisor probes at the slow interval.
    private(set) var isDegraded = false
    /// Whether the current failing streak's recovery (its first ready) was reported: once per streak.
    private var recoveryReported = false
    /// Whether the pending restart published its `starting` event already (a restart at once).
    private var restartAnnounced = false
    /// Whether the pending restart took its tokens from the policy's budget: they go back if it never starts.
    private var holdsBudgetTokens = false
    /// Whether a burst of wake-ups is going on (its first wake-up at `burstStart`).
    private var inBurst = false
    /// Whether the failure of an attempt that a wake-up of the current burst started has counted already.
    private var burstCounted = false
    /// Whether a wake-up cut the pending backoff short: the attempt it leads to is a woken one.
    private var wakePending = false
    /// Whether the current attempt was started by a wake-up.
    private var attemptWoken = false
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

    /// When the current run counts as stable, if the supervisor is degraded and running: the instant the runner
    /// reports ``SupervisorEvent/recovered`` at, since the degraded state ends with that run.
    var degradedRunStableAt: Duration? {
        guard isDegraded, case .running(let readyAt) = phase else { return nil }
        return readyAt + policy.stableUptime
    }

    // MARK: - Steps

    /// Supervision begins at `origin` (on the timeline; the events count from there): start attempt 1, unless
    /// `stopping` already.
    mutating func begin(at origin: Duration, stopping: Bool = false) -> AttemptAction {
        precondition(phase == .idle, "begin() is called once")
        originNanoseconds = origin.nanosecondsClamped
        return attemptDue(stopping: stopping)
    }

    /// The backoff's wait ended: by its deadline (`wokenAt` is `nil`), or cut short by a wake-up or a shutdown at
    /// `wokenAt`. Starts the next attempt, waits first, or finishes when `stopping`. After a `.waitOut`, call it
    /// again with `wokenAt: nil`.
    ///
    /// A wake-up with a `spread` starts the next attempt at a random instant of `[wokenAt, wokenAt + spread]`
    /// (drawn from the supervisor's generator), so that supervisors woken together do not start together; never
    /// before the wake floor (the minimum restart delay, a wait for the budget's tokens) and never after the
    /// backoff's own end.
    mutating func backoffEnded(wokenAt: Duration? = nil, spread: Duration = .zero, stopping: Bool = false)
        -> AttemptAction
    {
        guard phaseKind == .backingOff else { preconditionFailure("backoffEnded in \(phase)") }
        if !stopping, let wokenAt {
            let offset =
                spread > .zero ? Duration.delay(seconds: spread.inSeconds * generator.nextUnitInterval()) : .zero
            // A wake-up cuts a backoff short, but not below its floor (a flapping network monitor must not make a
            // failing resource spin) and not beyond its end.
            let startAt = min(max(wokenAt + offset, phaseInstant), backoffEnd)
            // A start the backoff would have made at that instant anyway is not a woken one.
            if startAt < backoffEnd { noteWake(at: wokenAt) }
            if startAt > wokenAt { return .waitOut(until: startAt) }
        }
        return attemptDue(stopping: stopping)
    }

    /// A wake-up at `instant` cut the backoff short. Wake-ups less than the policy's wake burst window after the
    /// one that began the current burst belong to it; the failures of the attempts they start count once.
    private mutating func noteWake(at instant: Duration) {
        if !inBurst || instant - burstStart >= policy.wakeBurstWindow {
            (inBurst, burstStart, burstCounted) = (true, instant, false)
        }
        wakePending = true
    }

    /// `start()` returned. Serve with the instance, or stop it and finish when `stopping`.
    mutating func startSucceeded(at now: Duration, stopping: Bool = false) -> ReadyAction {
        precondition(phase == .starting, "startSucceeded in \(phase)")
        if stopping { return .stopAndFinish(shutdown()) }
        phase = .running(readyAt: now)
        policy.budget?.recordSuccess()
        // The time to recover, for the first ready of a streak only: a resource that flaps within one streak is
        // counted once.
        var timeToRecover: Duration?
        if let since = streakStartedAt, !recoveryReported {
            recoveryReported = true
            timeToRecover = now - since
        }
        return .serve(attempt: attempt, timeToRecover: timeToRecover, recoversAt: degradedRunStableAt)
    }

    /// `run(_:)` returned or threw at `now`, before the instance is stopped. Returns ``SupervisorEvent/recovered``
    /// when a degraded run was stable by then and nothing reported it yet (`recoveryPending`: the scheduler's timer
    /// may be late).
    func runReturned(at now: Duration, recoveryPending: Bool, stopping: Bool = false) -> SupervisorEvent? {
        guard recoveryPending, !stopping, let stableAt = degradedRunStableAt, now >= stableAt else { return nil }
        return .recovered
    }

    /// The instance's `stop(_:)` returned, or `timedOut` after the policy's stop timeout: the event to publish then.
    func stopEnded(timedOut: Bool) -> SupervisorEvent? {
        guard timedOut, let timeout = policy.stopTimeout else { return nil }
        return .stopTimedOut(after: timeout)
    }

    /// `start()` threw `error`. A start that fails while `stopping` is the shutdown, not a failure, whatever it
    /// threw.
    mutating func startFailed(_ error: consuming any Error, at now: Duration, stopping: Bool = false) -> FailureAction {
        precondition(phaseKind == .starting, "startFailed in \(phase)")
        if stopping { return .finish(nil, shutdown()) }
        return failed(error, phase: .start, uptime: nil, at: now)
    }

    /// `run(_:)` threw `error`, or returned (`error == nil`), at `now`, and the instance has been stopped. The
    /// resource's error while `stopping` is the shutdown itself, not a failure.
    mutating func runEnded(_ error: consuming (any Error)?, at now: Duration, stopping: Bool = false) -> FailureAction {
        guard case .running(let readyAt) = phase else { preconditionFailure("runEnded in \(phase)") }
        if stopping { return .finish(nil, shutdown()) }
        let uptime = now - readyAt
        // Measured from ready, not from now: the stop that came between does not make a run stable.
        if uptime >= policy.stableUptime { forgetStreak() }
        guard let error else {
            if policy.onCompletion == .finish {
                phase = .finished
                return .finish(nil, .completed)
            }
            return failed(ResourceCompleted(), phase: .run, uptime: uptime, decision: .restart, at: now)
        }
        return failed(error, phase: .run, uptime: uptime, at: now)
    }

    /// Shutdown was requested; whatever the phase, supervision is over once the instance (if any) is stopped.
    mutating func shutdown() -> SupervisorStopReason {
        // A restart that took its budget's tokens and will not start now gives them back.
        if phaseKind == .backingOff, holdsBudgetTokens { policy.budget?.refund() }
        holdsBudgetTokens = false
        phase = .finished
        return .requested
    }

    /// An attempt is due: start it, announcing it unless its restart did, or finish when `stopping`.
    private mutating func attemptDue(stopping: Bool) -> AttemptAction {
        if stopping { return .finish(shutdown()) }
        phaseKind = .starting
        holdsBudgetTokens = false
        (attemptWoken, wakePending) = (wakePending, false)
        defer { restartAnnounced = false }
        return .start(attempt: attempt, announce: !restartAnnounced)
    }

    @inline(__always)  // one decision per failure, without the calls between its steps
    private mutating func failed(
        _ error: consuming any Error,
        phase failurePhase: FailurePhase,
        uptime: Duration?,
        decision: FailureDecision? = nil,
        at now: Duration
    ) -> FailureAction {
        let decision = decision ?? policy.classify(error, in: failurePhase)
        // The failure of an attempt that a wake-up started counts once per burst of wake-ups: the first counts, the
        // others of the burst neither count as failures nor as restarts (a netlink storm is one event).
        let uncounted = attemptWoken && burstCounted && decision != .stop
        if attemptWoken, decision != .stop { burstCounted = true }
        attemptWoken = false
        // Every other failure counts, the fatal one too (a stop decision is not a failure).
        if decision != .stop, !uncounted {
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
        let action = decide(failure, uncounted: uncounted, at: now)
        if case .restart = action.outcome {} else { phase = .finished }
        return action
    }

    @inline(__always)  // one decision per failure, without the calls between its steps
    private mutating func decide(_ failure: SupervisorFailure, uncounted: Bool, at now: Duration) -> FailureAction {
        switch failure.decision {
        case .stop:
            return .finish(failure, .stopDecision(failure.error))
        case .giveUp:
            return .giveUp(.fatal, failure)
        default:
            break
        }
        // `failures` consecutive starts failed; the next would be attempt `failures + 1`.
        if !uncounted, let maxAttempts = policy.maxAttempts, failures >= maxAttempts {
            return .giveUp(.attemptsExhausted, failure)
        }
        if let limit = policy.maxFailingDuration, let since = streakStartedAt, now - since >= limit {
            return .giveUp(.failingTooLong, failure)
        }
        var enteredDegraded = false
        if !uncounted, !isDegraded, let intensity = policy.intensity, !window.admit(at: now, within: intensity) {
            guard policy.escalation.probeInterval != nil else {
                return .giveUp(.intensityExceeded, failure)
            }
            isDegraded = true
            enteredDegraded = true
        }
        var delay: Duration
        if uncounted {
            // Back to the backoff that the wake-up cut short: its end holds, and so does a longer hint.
            delay = max(backoffEnd - now, .zero)
            if let hint = failure.decision.hint { delay = max(delay, min(hint, Backoff.longestDelay)) }
        } else if isDegraded, let probeInterval = policy.escalation.probeInterval {
            // Degraded: the slow probe replaces the schedule, which starts over once a run is stable; a longer
            // hint still holds.
            delay = probeDelay(probeInterval, hint: failure.decision.hint)
        } else {
            // The schedule advances even when a hint decides the delay, so its retry limit still counts.
            guard let scheduled = nextDelay(for: failure.phase) else {
                return .giveUp(.attemptsExhausted, failure)
            }
            if failure.decision == .restartNow {
                delay = .zero
            } else if let hint = failure.decision.hint {
                // Only a hint needs the backoff's bounds.
                let backoff = failure.phase == .start ? policy.startBackoff ?? policy.backoff : policy.backoff
                delay = policy.hints.delay(hint: hint, scheduled: scheduled, within: backoff, using: &generator)
            } else {
                delay = scheduled
            }
        }
        // The budget: the restart takes its cost, waits for tokens, or escalates.
        var budgetWait = Duration.zero
        if let budget = policy.budget {
            switch budget.withdrawal() {
            case .granted:
                holdsBudgetTokens = true
            case .wait(let wait):
                holdsBudgetTokens = true
                budgetWait = wait
                if delay < wait { delay = wait }
            case .refused:
                guard let probeInterval = policy.escalation.probeInterval else {
                    return .giveUp(.budgetExhausted, failure)
                }
                // Escalating to the slow probe, which goes ahead without tokens.
                if !isDegraded { (isDegraded, enteredDegraded) = (true, true) }
                delay = probeDelay(probeInterval, hint: failure.decision.hint)
            }
        }
        // The floor: a resource that fails at once cannot restart in a tight loop.
        if delay < policy.minimumRestartDelay { delay = policy.minimumRestartDelay }
        // A wake-up cuts neither the minimum restart delay nor a wait for the budget's tokens short.
        phase = .backingOff(wakeFloor: now + max(policy.minimumRestartDelay, budgetWait))
        let kind: Restart.Kind =
            if enteredDegraded, let probeInterval = policy.escalation.probeInterval {
                .enteredDegraded(probeInterval: probeInterval)
            } else if delay == .zero {
                // A restart at once announces the next start with its failure, in one publication.
                .atOnce
            } else if isDegraded {
                .degraded
            } else {
                .backingOff
            }
        if case .atOnce = kind { restartAnnounced = true }
        backoffEnd = now + delay
        return .restart(
            failure,
            Restart(
                delay: delay,
                until: now + delay,
                attempt: attempt,
                originNanoseconds: originNanoseconds,
                kind: kind,
                budgetUntil: budgetWait > .zero ? now + budgetWait : nil
            )
        )
    }

    /// A degraded supervisor's delay: the probe interval jittered as the escalation says, or a longer hint.
    private mutating func probeDelay(_ probeInterval: Duration, hint: Duration?) -> Duration {
        let jitter = policy.escalation.probeJitter ?? .none
        let probe =
            jitter == .none
            ? probeInterval : .delay(seconds: jitter.apply(to: probeInterval.inSeconds, using: &generator))
        return hint.map { max(probe, min($0, Backoff.longestDelay)) } ?? probe
    }

    @inline(__always)  // one decision per failure, without the calls between its steps
    private mutating func nextDelay(for failurePhase: FailurePhase) -> Duration? {
        // Borrowed from the policy, not bound to a local: binding copies the backoff.
        if failurePhase == .start, policy.startBackoff != nil {
            return startSchedule.next(policy.startBackoff!, using: &generator)  // checked just above
        }
        return runSchedule.next(policy.backoff, using: &generator)
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
