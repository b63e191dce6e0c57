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
