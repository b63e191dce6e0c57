/// Why
/// ``retry(backoff:maxAttempts:maxElapsed:classifier:hints:budget:timerTolerance:clock:generator:logger:isolation:operation:onRetry:)``
/// gave up, with the failure that made it.
///
/// ```swift
/// do {
///     let config = try await retry(maxAttempts: 6, maxElapsed: .seconds(20)) { try await fetchConfiguration() }
///     apply(config)
/// } catch let error as RetryError where error.reason == .gaveUp {
///     logger.error("the server refused", metadata: ["error": "\(error.lastError)"])  // not worth retrying
/// } catch let error as RetryError {
///     logger.warning("no configuration", metadata: ["reason": "\(error.reason)", "attempts": "\(error.attempts)"])
/// }
/// ```
public struct RetryError: Error, Sendable, CustomStringConvertible {
    /// Why the retries ended; compare with the static members.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private enum _Reason: Hashable, Sendable {
            case attemptsExhausted
            case retryLimitReached
            case deadline
            case gaveUp
            case cancelled
            case budgetExhausted
        }

        private let reason: _Reason

        private init(_ reason: _Reason) {
            self.reason = reason
        }

        /// `maxAttempts` calls of the operation failed.
        public static let attemptsExhausted = Reason(.attemptsExhausted)
        /// The backoff ran out of delays (``Backoff/limited(toRetries:)``).
        public static let retryLimitReached = Reason(.retryLimitReached)
        /// The next backoff would have ended past `maxElapsed`.
        public static let deadline = Reason(.deadline)
        /// The classifier decided ``FailureDecision/giveUp`` or ``FailureDecision/stop``.
        public static let gaveUp = Reason(.gaveUp)
        /// The calling task was cancelled after at least one call had failed.
        public static let cancelled = Reason(.cancelled)
        /// The ``RestartBudget`` lacked a retry's cost, with ``RestartBudget/Exhaustion/escalate``.
        public static let budgetExhausted = Reason(.budgetExhausted)

        public var description: String {
            switch reason {
            case .attemptsExhausted: "attempts exhausted"
            case .retryLimitReached: "backoff retry limit reached"
            case .deadline: "deadline reached"
            case .gaveUp: "gave up"
            case .cancelled: "cancelled"
            case .budgetExhausted: "restart budget exhausted"
            }
        }
    }

    /// Why the retries ended.
    public let reason: Reason
    /// The last failure of the operation.
    public let lastError: any Error
    /// How many times the operation was called, the first call included.
    public let attempts: Int

    /// Creates the error; `retry` makes them, and tests of code that handles them may too.
    public init(_ reason: Reason, lastError: any Error, attempts: Int) {
        self.reason = reason
        self.lastError = lastError
        self.attempts = attempts
    }

    public var description: String {
        "retry: \(reason) after \(attempts) attempt(s); last error: \(lastError)"
    }
}
