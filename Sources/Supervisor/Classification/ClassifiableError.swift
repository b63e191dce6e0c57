/// An error that knows what it means for the resource that threw it.
///
/// Adapters' errors adopt it (an SRT bind failure with `EADDRNOTAVAIL` says ``FailureDecision/restart``, one
/// with `EACCES` says ``FailureDecision/giveUp``), so a supervisor classifies them without a table of its own:
///
/// ```swift
/// struct QuotaExceeded: ClassifiableError {
///     var retryAfter: Duration
///     var failureDecision: FailureDecision { .restart(after: retryAfter) }
/// }
/// ```
///
/// ``FailureClassifier/default`` asks such errors first.
public protocol ClassifiableError: Error {
    /// What this failure means; `nil` leaves the decision to the next classifier.
    var failureDecision: FailureDecision? { get }
}
