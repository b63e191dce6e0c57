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
