/// A failure as a supervisor saw it: the error, where it happened, and what was decided.
public struct SupervisorFailure: Sendable, CustomStringConvertible {
    /// What `start()` or `run(_:)` threw; for a normal return under ``CompletionBehavior/restart``,
    /// a ``ResourceCompleted``.
    public let error: any Error
    /// Start failure or death after ready.
    public let phase: FailurePhase
    /// What the classifier decided.
    public let decision: FailureDecision
    /// Consecutive failures in the current streak, this one included.
    public let failures: Int
    /// How long the resource had been ready, for a death after ready.
    public let uptime: Duration?

    public var description: String {
        let up = uptime.map { " after \($0) up" } ?? ""
        return "\(phase) failure #\(failures)\(up): \(error) → \(decision)"
    }
}

/// `run(_:)` returned without an error where the resource was supposed to keep running.
public struct ResourceCompleted: Error, Hashable, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "run returned" }
}

/// Something that happened to a supervised resource, in the order it happened.
///
/// ```swift
/// for await event in supervisor.events() {
///     switch event {
///     case .ready: print("up")
///     case .backingOff(let delay, _, let attempt): print("retrying (attempt \(attempt)) in \(delay)")
///     case .stopped(let reason): print("stopped: \(reason)")
///     default: break
///     }
/// }
/// ```
///
/// Instants (`until`) are offsets from the moment the supervisor's `run()` began, on the supervisor's clock.
public enum SupervisorEvent: Sendable, CustomStringConvertible {
    /// `start()` is being called; `attempt` counts the starts of the current failing streak: 1 for the first start,
    /// 2 after a stable run's failure (which opens a new streak), and so on. (A shutdown
    /// that arrives just after this event ends supervision before the call: ``stopped(_:)`` follows.)
    case starting(attempt: Int)
    /// `start()` returned: the resource is ready and `run(_:)` is being called.
    case ready(attempt: Int)
    /// `start()` or `run(_:)` failed, and this is what was decided.
    case failed(SupervisorFailure)
    /// Waiting `delay` until the instant `until`, then starting attempt `attempt`.
    case backingOff(delay: Duration, until: Duration, attempt: Int)
    /// The restart intensity tripped: probing every `probeInterval` until a run is stable again.
    case degraded(probeInterval: Duration)
    /// A degraded supervisor's run has stayed ready for the policy's stable uptime: the degraded state is over, and
    /// the next failure starts a new streak on the normal schedule.
    case recovered
    /// `stop(_:)` did not return within the policy's stop timeout; the supervisor went on without waiting for it.
    case stopTimedOut(after: Duration)
    /// Supervision ended; this is the last event.
    case stopped(SupervisorStopReason)

    public var description: String {
        switch self {
        case .starting(let attempt): "starting (attempt \(attempt))"
        case .ready(let attempt): "ready (attempt \(attempt))"
        case .failed(let failure): "failed: \(failure)"
        case .backingOff(let delay, _, let attempt): "backing off \(delay) before attempt \(attempt)"
        case .degraded(let interval): "degraded: probing every \(interval)"
        case .recovered: "recovered from the degraded state"
        case .stopTimedOut(let timeout): "stop timed out after \(timeout)"
        case .stopped(let reason): "stopped: \(reason)"
        }
    }
}

/// Why a supervisor stopped.
///
/// `indirect`, so that the current state and the final reason a supervisor keeps cost a pointer each rather than
/// a whole ``SupervisorError``.
public indirect enum SupervisorStopReason: Sendable, CustomStringConvertible {
    /// The task was cancelled or a graceful shutdown was requested.
    case requested
    /// The classifier decided ``FailureDecision/stop`` for this error.
    case stopDecision(any Error)
    /// `run(_:)` returned and the policy says ``CompletionBehavior/finish``.
    case completed
    /// The supervisor gave up; `run()` throws this error.
    case gaveUp(SupervisorError)

    public var description: String {
        switch self {
        case .requested: "shutdown requested"
        case .stopDecision(let error): "stopped by \(error)"
        case .completed: "completed"
        case .gaveUp(let error): "gave up: \(error)"
        }
    }
}

/// What a supervised resource is doing now.
public enum SupervisorState: Sendable, CustomStringConvertible {
    /// `run()` has not been called yet.
    case idle
    /// `start()` is in progress.
    case starting(attempt: Int)
    /// The resource is ready and serving.
    case ready
    /// Waiting before the next attempt.
    case backingOff(delay: Duration, until: Duration)
    /// The restart intensity tripped; waiting `probeInterval`-long intervals between attempts.
    case degraded(until: Duration)
    /// Supervision ended.
    case stopped(SupervisorStopReason)

    /// `true` only in ``ready``: what a health check reports as healthy.
    public var isReady: Bool {
        if case .ready = self { true } else { false }
    }

    /// A short label for metrics and logs: `idle`, `starting`, `ready`, `backing-off`, `degraded`, `stopped`.
    public var label: String { Self.labels[ordinal] }

    static let labels = ["idle", "starting", "ready", "backing-off", "degraded", "stopped"]

    /// The index of this state's label in `labels`.
    var ordinal: Int {
        switch self {
        case .idle: 0
        case .starting: 1
        case .ready: 2
        case .backingOff: 3
        case .degraded: 4
        case .stopped: 5
        }
    }

    public var description: String {
        switch self {
        case .starting(let attempt): "starting (attempt \(attempt))"
        case .backingOff(let delay, _): "backing off \(delay)"
        case .stopped(let reason): "stopped: \(reason)"
        default: label
        }
    }
}
