/// Everything a supervisor decides with: how long to wait, what a failure means, how many restarts are too many,
/// when a run counts as stable, and when to stop trying.
///
/// ```swift
/// let policy = try RestartPolicy(
///     backoff: .exponential(initial: .milliseconds(100), maximum: .seconds(30)).jitter(.full),
///     classifier: .firstMatch([.type(PermissionError.self, .giveUp), .default]),
///     intensity: RestartIntensity(maxRestarts: 10, within: .seconds(60)),
///     escalation: .degrade(probeInterval: .seconds(30)),
///     stableUptime: .seconds(10)
/// )
/// ```
///
/// How one failure is handled, in order:
/// 1. If the resource had been ready for at least ``stableUptime``, the failing streak is over: the backoff
///    starts again at attempt 1, the budgets start again, and a degraded supervisor returns to normal.
/// 2. The classifier for the failure's phase decides: ``FailureDecision/stop`` ends supervision cleanly,
///    ``FailureDecision/giveUp`` ends it with the error; a restart goes on.
/// 3. Budgets, counted from the first failure of the streak: ``maxAttempts`` starts that all failed, or
///    failing for longer than ``maxFailingDuration``, gives up. Of the attempts that one burst of wake-ups
///    started (``wakeBurstWindow``), only the first failure counts here and in 4; the others go back to the
///    backoff that their wake-up cut short.
/// 4. ``intensity``: one restart too many within its period escalates (give up, or degrade).
/// 5. The delay: the degraded probe interval (jittered as the escalation says), else the phase's backoff
///    schedule (a schedule that returns `nil` gives up), with the classifier's retry-after hint applied as
///    ``hints`` says (a floor by default).
/// 6. ``budget``: the restart takes its cost. When the budget is short it waits for tokens (the delay grows to
///    that wait, which a wake-up does not cut short) or escalates, as the budget's ``RestartBudget/exhaustion``
///    says. The delay is never less than ``minimumRestartDelay``.
///
/// "Attempts" are calls everywhere in this library: `maxAttempts: 3` here allows three starts in a failing streak,
/// as `retry(maxAttempts: 3)` makes three calls; a backoff's ``Backoff/limited(toRetries:)`` counts the delays
/// between them.
public struct RestartPolicy: Sendable, CustomStringConvertible {
    /// The delays between restarts after deaths (and after start failures, unless ``startBackoff`` is set).
    // Read in place (a borrow, not a copy): a backoff with a custom curve holds a closure, and every failure of a
    // supervisor reads one, so a copy would cost a retain, a release and an outlined copy per restart.
    public var backoff: Backoff { _read { yield storage.backoff } }
    /// The delays between attempts after start failures; `nil` uses ``backoff``.
    public var startBackoff: Backoff? { _read { yield storage.startBackoff } }
    /// What a failure means (for start failures too, unless ``startClassifier`` is set).
    public var classifier: FailureClassifier { storage.classifier }
    /// What a start failure means; `nil` uses ``classifier``.
    public var startClassifier: FailureClassifier? { storage.startClassifier }
    /// At most R restarts within T; `nil` for no limit.
    public var intensity: RestartIntensity? { storage.intensity }
    /// What to do when ``intensity`` trips, and when ``budget`` is short and its exhaustion is
    /// ``RestartBudget/Exhaustion/escalate``.
    public var escalation: Escalation { storage.escalation }
    /// The restart budget this supervisor shares with others: every restart takes its cost, every ready start
    /// refills it; `nil` for none.
    public var budget: RestartBudget? { storage.budget }
    /// How long a resource must stay ready, counted from the moment `start()` returned, for its failing streak
    /// to be forgotten.
    public var stableUptime: Duration { storage.stableUptime }
    /// The most starts in one failing streak: after that many consecutive failed attempts the supervisor gives up.
    /// `nil` for no limit; `1` never restarts.
    public var maxAttempts: Int? { storage.maxAttempts }
    /// The longest a failing streak may last before giving up; `nil` for no limit.
    public var maxFailingDuration: Duration? { storage.maxFailingDuration }
    /// What happens when `run(_:)` returns without an error.
    public var onCompletion: CompletionBehavior { storage.onCompletion }
    /// How late backoff timers may fire.
    public var timerTolerance: TimerTolerance { storage.timerTolerance }
    /// The shortest wait between a failure and the next start, whatever the backoff or a hint says: a resource
    /// that fails at once cannot spin. `.zero` only when asked for; even then each restart yields to other tasks.
    public var minimumRestartDelay: Duration { storage.minimumRestartDelay }
    /// How long `stop(_:)` may take before the supervisor moves on without it and reports
    /// ``SupervisorEvent/stopTimedOut(after:)`` (systemd's `TimeoutStopSec`); `nil` waits for as long as it takes.
    ///
    /// Measured on the supervisor's clock. Under a clock whose sleeps return at once (`ImmediateClock`,
    /// `SkipAheadClock`) any stop that suspends outlasts it: pass `nil` there; a `TestClock` moves only when told.
    public var stopTimeout: Duration? { storage.stopTimeout }
    /// What a retry-after hint does to the delay (a floor by default).
    public var hints: HintPolicy { storage.hints }
    /// How long a burst of wake-ups lasts: the wake-ups (``ResourceSupervisor/wake(spread:)``) that cut backoffs
    /// short within this window of the burst's first one count as one. The first failure of an attempt that they
    /// start counts as usual toward ``maxAttempts`` and ``intensity``; the failures of the others do not count,
    /// and each goes back to the backoff that its wake-up cut short (its end still holds). `.zero` counts every
    /// woken attempt's failure.
    public var wakeBurstWindow: Duration { storage.wakeBurstWindow }

    /// This policy with `onCompletion` and `maxAttempts` replaced: how a group makes a child's own supervisor end
    /// where the child's ``ChildRestart`` says the group decides.
    func with(onCompletion: CompletionBehavior, maxAttempts: Int?) -> RestartPolicy {
        var copy = self
        copy.storage = Storage(
            backoff: backoff, startBackoff: startBackoff, classifier: classifier, startClassifier: startClassifier,
            intensity: intensity, escalation: escalation, budget: budget, stableUptime: stableUptime,
            maxAttempts: maxAttempts, maxFailingDuration: maxFailingDuration, onCompletion: onCompletion,
            timerTolerance: timerTolerance, minimumRestartDelay: minimumRestartDelay, stopTimeout: stopTimeout,
            hints: hints, wakeBurstWindow: wakeBurstWindow)
        return copy
    }

    /// The values, immutable and shared: a policy is one pointer wide, however many supervisors copy it.
    private final class Storage: Sendable {
        let backoff: Backoff
        let startBackoff: Backoff?
        let classifier: FailureClassifier
        let startClassifier: FailureClassifier?
        let intensity: RestartIntensity?
        let escalation: Escalation
        let budget: RestartBudget?
        let stableUptime: Duration
        let maxAttempts: Int?
        let maxFailingDuration: Duration?
        let onCompletion: CompletionBehavior
        let timerTolerance: TimerTolerance
        let minimumRestartDelay: Duration
        let stopTimeout: Duration?
        let hints: HintPolicy
        let wakeBurstWindow: Duration

        init(
            backoff: Backoff,
            startBackoff: Backoff?,
            classifier: FailureClassifier,
            startClassifier: FailureClassifier?,
            intensity: RestartIntensity?,
            escalation: Escalation,
            budget: RestartBudget?,
            stableUptime: Duration,
            maxAttempts: Int?,
            maxFailingDuration: Duration?,
            onCompletion: CompletionBehavior,
            timerTolerance: TimerTolerance,
            minimumRestartDelay: Duration,
            stopTimeout: Duration?,
            hints: HintPolicy,
            wakeBurstWindow: Duration
        ) {
            self.backoff = backoff
            self.startBackoff = startBackoff
            self.classifier = classifier
            self.startClassifier = startClassifier
            self.intensity = intensity
            self.escalation = escalation
            self.budget = budget
            self.stableUptime = stableUptime
            self.maxAttempts = maxAttempts
            self.maxFailingDuration = maxFailingDuration
            self.onCompletion = onCompletion
            self.timerTolerance = timerTolerance
            self.minimumRestartDelay = minimumRestartDelay
            self.stopTimeout = stopTimeout
            self.hints = hints
            self.wakeBurstWindow = wakeBurstWindow
        }
    }

    private var storage: Storage

    /// The backoff supervisors use unless told otherwise: exponential from 100 ms, ×2, at most 30 s, full jitter.
    public static let standardBackoff = Backoff(
        curve: .exponential(initial: 0.1, multiplier: 2, maximum: 30)
    ).jitter(.full)

    /// The least wait between a failure and the next start unless a policy says otherwise.
    public static let standardMinimumRestartDelay: Duration = .milliseconds(5)

    /// How long a burst of wake-ups lasts unless a policy says otherwise: one second. The messages of one network
    /// event (an interface coming up brings its link, its addresses and its routes, dozens of messages) arrive well
    /// within it, so such a storm counts once; a network that keeps flapping for longer counts once a second, so a
    /// resource that keeps failing all the same still reaches its limits.
    public static let standardWakeBurstWindow: Duration = .seconds(1)

    /// How long a resource's `stop(_:)` may take unless a policy says otherwise.
    public static let standardStopTimeout: Duration = .seconds(10)

    /// Creates a policy; every argument has a default suited to a network listener.
    ///
    /// - Throws: ``ConfigurationError`` for a negative stable uptime, minimum restart delay or wake burst window,
    ///   a `maxAttempts` below one, or a non-positive `maxFailingDuration` or `stopTimeout`.
    public init(
        backoff: Backoff = RestartPolicy.standardBackoff,
        startBackoff: Backoff? = nil,
        classifier: FailureClassifier = .default,
        startClassifier: FailureClassifier? = nil,
        intensity: RestartIntensity? = nil,
        escalation: Escalation = .giveUp,
        budget: RestartBudget? = nil,
        stableUptime: Duration = .seconds(10),
        maxAttempts: Int? = nil,
        maxFailingDuration: Duration? = nil,
        onCompletion: CompletionBehavior = .restart,
        timerTolerance: TimerTolerance = .standard,
        minimumRestartDelay: Duration = RestartPolicy.standardMinimumRestartDelay,
        stopTimeout: Duration? = RestartPolicy.standardStopTimeout,
        hints: HintPolicy = .floor,
        wakeBurstWindow: Duration = RestartPolicy.standardWakeBurstWindow
    ) throws(ConfigurationError) {
        guard stableUptime >= .zero, stableUptime <= Backoff.longestDelay else {
            throw ConfigurationError(
                .outOfRange, option: "stableUptime",
                "must be zero or more and at most \(Backoff.longestDelay), got \(stableUptime)")
        }
        if let maxAttempts, maxAttempts < 1 {
            throw ConfigurationError(.outOfRange, option: "maxAttempts", "must be at least 1, got \(maxAttempts)")
        }
        guard minimumRestartDelay >= .zero, minimumRestartDelay <= Backoff.longestDelay else {
            throw ConfigurationError(
                .outOfRange,
                option: "minimumRestartDelay",
                "must be zero or more and at most \(Backoff.longestDelay), got \(minimumRestartDelay)"
            )
        }
        if let stopTimeout, stopTimeout <= .zero || stopTimeout > Backoff.longestDelay {
            throw ConfigurationError(
                .outOfRange,
                option: "stopTimeout",
                "must be more than zero and at most \(Backoff.longestDelay), got \(stopTimeout)"
            )
        }
        guard wakeBurstWindow >= .zero, wakeBurstWindow <= Backoff.longestDelay else {
            throw ConfigurationError(
                .outOfRange,
                option: "wakeBurstWindow",
                "must be zero or more and at most \(Backoff.longestDelay), got \(wakeBurstWindow)"
            )
        }
        if let maxFailingDuration, maxFailingDuration <= .zero {
            throw ConfigurationError(
                .outOfRange,
                option: "maxFailingDuration",
                "must be more than zero, got \(maxFailingDuration)"
            )
        }
        self.storage = Storage(
            backoff: backoff,
            startBackoff: startBackoff,
            classifier: classifier,
            startClassifier: startClassifier,
            intensity: intensity,
            escalation: escalation,
            budget: budget,
            stableUptime: stableUptime,
            maxAttempts: maxAttempts,
            maxFailingDuration: maxFailingDuration,
            onCompletion: onCompletion,
            timerTolerance: timerTolerance,
            minimumRestartDelay: minimumRestartDelay,
            stopTimeout: stopTimeout,
            hints: hints,
            wakeBurstWindow: wakeBurstWindow
        )
    }

    /// The policy with every default: standard backoff, default classifier, no intensity limit or budget,
    /// stable after 10 s, restart after a normal return.
    public static let `default`: RestartPolicy = {
        do { return try RestartPolicy() } catch { fatalError("the default policy is valid: \(error)") }
    }()

    /// What the classifier for `phase` decides about `error`. Reads the classifier in place rather than copying it
    /// out of the shared storage, which would retain and release its closure on every failure.
    func classify(_ error: any Error, in phase: FailurePhase) -> FailureDecision {
        if phase == .start, storage.startClassifier != nil { return storage.startClassifier!.classify(error) }
        return storage.classifier.classify(error)
    }

    public var description: String {
        var parts = ["backoff \(backoff)"]
        if let startBackoff { parts.append("start backoff \(startBackoff)") }
        if let intensity { parts.append("intensity \(intensity) then \(escalation)") }
        if let budget { parts.append("\(budget)") }
        parts.append("stable after \(stableUptime)")
        if let maxAttempts { parts.append("at most \(maxAttempts) attempts") }
        if minimumRestartDelay != RestartPolicy.standardMinimumRestartDelay {
            parts.append("restarts at least \(minimumRestartDelay) apart")
        }
        if hints != .floor { parts.append("hints \(hints)") }
        if wakeBurstWindow != RestartPolicy.standardWakeBurstWindow {
            parts.append("wake-ups counted once per \(wakeBurstWindow)")
        }
        if let maxFailingDuration { parts.append("failing at most \(maxFailingDuration)") }
        return parts.joined(separator: ", ")
    }
}
