/// A failed call of the operation that
/// ``retry(backoff:maxAttempts:maxElapsed:classifier:hints:budget:timerTolerance:clock:generator:logger:isolation:operation:onRetry:)``
/// is about to try again, as its `onRetry` hook sees it before the backoff.
///
/// ```swift
/// var retries = 0
/// let config = try await retry {
///     try await fetchConfiguration()
/// } onRetry: { failed in
///     retries += 1
///     print("attempt \(failed.attempt) failed (\(failed.error)); trying again in \(failed.delay)")
/// }
/// ```
public struct RetryAttempt: Sendable, CustomStringConvertible {
    /// The call that failed, counted from 1: the number of calls so far.
    public let attempt: Int
    /// What it threw.
    public let error: any Error
    /// What the classifier decided about `error`: ``FailureDecision/restart`` or ``FailureDecision/restart(after:)``.
    public let decision: FailureDecision
    /// The backoff about to be waited before the next call.
    public let delay: Duration

    /// Creates the description of a failed call; `retry` makes them, and tests of hooks may too.
    public init(attempt: Int, error: any Error, decision: FailureDecision, delay: Duration) {
        self.attempt = attempt
        self.error = error
        self.decision = decision
        self.delay = delay
    }

    public var description: String {
        "attempt \(attempt) failed (\(decision)): \(error); next in \(delay)"
    }
}
