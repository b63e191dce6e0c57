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
