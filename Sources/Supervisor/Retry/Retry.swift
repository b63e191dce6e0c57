public import Logging

/// Runs `operation` until it succeeds, backing off between attempts with the same ``Backoff`` and
/// ``FailureClassifier`` a supervisor uses. For one-shot operations; long-lived resources want a
/// `ResourceSupervisor`.
///
/// ```swift
/// do {
///     let config = try await retry(
///         backoff: .exponential(initial: .milliseconds(200), maximum: .seconds(5)).jitter(.full),
///         maxAttempts: 6,
///         maxElapsed: .seconds(20)
///     ) {
///         try await fetchConfiguration()
///     } onRetry: { failed in
///         print("attempt \(failed.attempt): \(failed.error); again in \(failed.delay)")
///     }
///     apply(config)
/// } catch let error as RetryError {
///     print("no configuration: \(error.reason) after \(error.attempts) attempts; last: \(error.lastError)")
/// }
/// ```
///
/// After each failure:
///
/// 1. If the calling task is cancelled, retrying ends with ``RetryError/Reason/cancelled``. Only the caller's own
///    cancellation ends it: a `CancellationError` the operation throws while the caller is not cancelled (a
///    timeout of its own, a child task it lost) is a failure like any other, which ``FailureClassifier/default``
///    restarts.
/// 2. The classifier decides: ``FailureDecision/giveUp`` and ``FailureDecision/stop`` end with
///    ``RetryError/Reason/gaveUp``.
/// 3. After `maxAttempts` calls, retrying ends with ``RetryError/Reason/attemptsExhausted``; when the backoff
///    has no next delay, with ``RetryError/Reason/retryLimitReached``.
/// 4. The delay is the backoff's next one, with the error's ``FailureDecision/restart(after:)`` hint applied as
///    `hints` says (by default a floor: the longer of the two), within the backoff's bounds. A delay that would end
///    more than `maxElapsed` after the first call is not waited: retrying ends with ``RetryError/Reason/deadline``.
/// 5. With a `budget`, the next call takes its cost: when the budget is short, the delay grows to the wait for its
///    tokens, or, with ``RestartBudget/Exhaustion/escalate``, retrying ends with
///    ``RetryError/Reason/budgetExhausted``. A success, the first call's too, refills the budget.
/// 6. `onRetry` sees the failed attempt, the failure is logged, and the delay is waited.
///
/// Every ending after a failure throws ``RetryError``, which carries the last error and the number of calls.
/// Cancellation during a backoff ends it at once with ``RetryError/Reason/cancelled``; a task already cancelled
/// when `retry` is called throws `CancellationError` without calling `operation`.
///
/// - Parameters:
///   - backoff: the delays between attempts; exponential from 100 ms, ×2, at most 30 s, full jitter by default.
///   - maxAttempts: the most calls of `operation`, the first included; at least 1.
///   - maxElapsed: if given, no backoff is waited that would end later than this after the first call began;
///     more than zero.
///   - classifier: what an error means; errors may classify themselves, anything else restarts.
///   - hints: what a retry-after hint does to the delay; a floor by default (see ``HintPolicy``).
///   - budget: a ``RestartBudget`` shared with other `retry` calls and supervisors; `nil` for none.
///   - timerTolerance: how late a backoff timer may fire.
///   - clock: what backoffs sleep on and `maxElapsed` is measured on.
///   - generator: the randomness of the jitter; pass a seeded generator for a reproducible run.
///   - logger: if given, each failure and backoff is logged at `warning`.
///   - isolation: the caller's actor, inherited so that `operation` runs where the caller does.
///   - operation: the work to retry; it runs in the caller's isolation.
///   - onRetry: called in the caller's isolation after each failure that will be retried, before its backoff;
///     a second trailing closure, labelled `onRetry:`.
/// - Throws: ``RetryError`` when retrying ends without a success, `CancellationError` if the task was cancelled
///   before the first call, ``ConfigurationError`` for `maxAttempts < 1` or `maxElapsed <= 0`.
public func retry<Value, Generator: RandomNumberGenerator>(
    backoff: Backoff = RestartPolicy.standardBackoff,
    maxAttempts: Int = 5,
    maxElapsed: Duration? = nil,
    classifier: FailureClassifier = .default,
    hints: HintPolicy = .floor,
    budget: RestartBudget? = nil,
    timerTolerance: TimerTolerance = .standard,
    clock: any Clock<Duration> = ContinuousClock(),
    generator: Generator = SystemRandomNumberGenerator(),
    logger: Logger? = nil,
    isolation: isolated (any Actor)? = #isolation,
    operation: () async throws -> Value,
    onRetry: (RetryAttempt) -> Void = { _ in }
) async throws -> Value {
    guard maxAttempts >= 1 else {
        throw ConfigurationError(.outOfRange, option: "maxAttempts", "must be at least 1, got \(maxAttempts)")
    }
    if let maxElapsed, maxElapsed <= .zero {
        throw ConfigurationError(.outOfRange, option: "maxElapsed", "must be more than zero, got \(maxElapsed)")
    }
    // Nothing failed yet, so there is no last error to report: cancellation is plain cancellation.
    try Task.checkCancellation()
    let timeline = Timeline.of(clock)
    let start = timeline.now()
    var schedule = backoff.makeSchedule()
    var generator = generator
    // Calls made so far; it only grows while below `maxAttempts`, so it never overflows.
    var attempts = 0
    while true {
        attempts += 1
        let failure: any Error
        do {
            let value = try await operation()
            budget?.recordSuccess()
            return value
        } catch {
            failure = error
        }
        // The caller's cancellation ends it, whatever the operation threw and whatever the classifier says.
        if Task.isCancelled { throw RetryError(.cancelled, lastError: failure, attempts: attempts) }
        let decision = classifier.classify(failure)
        guard decision.isRestart else { throw RetryError(.gaveUp, lastError: failure, attempts: attempts) }
        guard attempts < maxAttempts else {
            throw RetryError(.attemptsExhausted, lastError: failure, attempts: attempts)
        }
        // The schedule advances even when a hint sets the delay, so that its attempt limit counts.
        guard let scheduled = schedule.next(using: &generator) else {
            throw RetryError(.retryLimitReached, lastError: failure, attempts: attempts)
        }
        var delay =
            decision == .restartNow
            ? .zero : hints.delay(hint: decision.hint, scheduled: scheduled, within: backoff, using: &generator)
        if let budget {
            // Nothing taken when it escalates; a wait for tokens taken in advance lengthens the delay.
            guard let wait = budget.withdraw() else {
                throw RetryError(.budgetExhausted, lastError: failure, attempts: attempts)
            }
            delay = max(delay, wait)
        }
        let now = timeline.now()
        var tolerance = timerTolerance.tolerance(for: delay)
        if let maxElapsed {
            // What is left of `maxElapsed` after this delay; a difference, so a huge `maxElapsed` cannot overflow.
            let slack = maxElapsed - (now - start) - delay
            guard slack >= .zero else {
                // The call that took the tokens will not be made.
                budget?.refund()
                throw RetryError(.deadline, lastError: failure, attempts: attempts)
            }
            // A late timer must not carry the next call past the deadline either.
            tolerance = tolerance.map { min($0, slack) }
        }
        onRetry(RetryAttempt(attempt: attempts, error: failure, decision: decision, delay: delay))
        logger?.warning(
            "retrying",
            metadata: [
                "attempt": "\(attempts)", "error": "\(failure)", "decision": "\(decision)", "delay": "\(delay)",
            ]
        )
        do {
            if delay > .zero {
                try await timeline.sleep(now + delay, tolerance)
            } else {
                // No delay still suspends: an operation that fails at once must not keep this thread.
                await Task.yield()
                try Task.checkCancellation()
            }
        } catch {
            // A clock's sleep throws only when the task is cancelled; the call that took the tokens is not made.
            budget?.refund()
            throw RetryError(.cancelled, lastError: failure, attempts: attempts)
        }
    }
}
