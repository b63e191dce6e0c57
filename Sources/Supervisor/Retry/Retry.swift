public import Logging

/// Runs `operation` until it succeeds, backing off between attempts with the same ``Backoff`` and
/// ``FailureClassifier`` a supervisor uses. For one-shot operations; long-lived resources want a
/// `ResourceSupervisor`.
///
/// ```swift
/// let config = try await retry(
///     backoff: .exponential(initial: .milliseconds(200), maximum: .seconds(5)).jitter(.full),
///     maxAttempts: 6
/// ) {
///     try await fetchConfiguration()
/// }
/// ```
///
/// After each failure the classifier decides: ``FailureDecision/restart`` waits the backoff's next delay (or the
/// error's ``FailureDecision/restart(after:)`` hint) and tries again; ``FailureDecision/giveUp`` and
/// ``FailureDecision/stop`` rethrow at once. When `maxAttempts` calls have failed, or the backoff returns `nil`,
/// the last error is rethrown as it is, so callers catch the errors they already know. Cancellation during a
/// backoff throws `CancellationError` at once.
///
/// - Parameters:
///   - backoff: the delays between attempts; exponential from 100 ms, ×2, at most 30 s, full jitter by default.
///   - maxAttempts: the most calls of `operation`, the first included; at least 1.
///   - classifier: what an error means; `CancellationError` stops, errors may classify themselves.
///   - timerTolerance: how late a backoff timer may fire.
///   - clock: what backoffs sleep on.
///   - generator: the randomness of the jitter; pass a seeded generator for a reproducible run.
///   - logger: if given, each failure and backoff is logged at `warning`.
///   - isolation: the caller's actor, inherited so that `operation` runs where the caller does.
///   - operation: the work to retry; it runs in the caller's isolation.
/// - Throws: the last error of `operation`, `CancellationError`, or ``ConfigurationError`` for `maxAttempts < 1`.
public func retry<Value, Generator: RandomNumberGenerator>(
    backoff: Backoff = RestartPolicy.standardBackoff,
    maxAttempts: Int = 5,
    classifier: FailureClassifier = .default,
    timerTolerance: TimerTolerance = .standard,
    clock: any Clock<Duration> = ContinuousClock(),
    generator: Generator = SystemRandomNumberGenerator(),
    logger: Logger? = nil,
    isolation: isolated (any Actor)? = #isolation,
    operation: () async throws -> Value
) async throws -> Value {
    guard maxAttempts >= 1 else {
        throw ConfigurationError(.outOfRange, option: "maxAttempts", "must be at least 1, got \(maxAttempts)")
    }
    let timeline = Timeline.of(clock)
    var schedule = backoff.makeSchedule()
    var generator = generator
    var attempt = 1
    while true {
        do {
            return try await operation()
        } catch {
            let decision = classifier.classify(error)
            guard decision.isRestart, attempt < maxAttempts,
                let scheduled = schedule.next(using: &generator)
            else { throw error }
            // A hint replaces the delay; the schedule still advanced, so its attempt limit counts.
            let delay = decision.hint.map { min($0, Backoff.longestDelay) } ?? scheduled
            logger?.warning(
                "retrying",
                metadata: [
                    "attempt": "\(attempt)", "error": "\(error)", "decision": "\(decision)", "delay": "\(delay)",
                ]
            )
            attempt += 1
            if delay > .zero {
                try await timeline.sleep(timeline.now() + delay, timerTolerance.tolerance(for: delay))
            } else {
                try Task.checkCancellation()
            }
        }
    }
}
