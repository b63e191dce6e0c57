extension Duration {
    /// The wait before the next try, from the backoff's `scheduled` delay and a ``FailureDecision/restart(after:)``
    /// `hint`: the hint is a floor (a server's retry-after is the earliest worth trying, and a backoff already
    /// longer than it stays so), the result at most ``Backoff/longestDelay``.
    ///
    /// The one place where a hint and a schedule meet, so that every runner computes the same delay.
    static func retryDelay(hint: Duration?, scheduled: Duration) -> Duration {
        // No hint counts as a floor of zero; hints are never negative (`restart(after:)` clamps them).
        Swift.min(Swift.max(hint ?? .zero, scheduled), Backoff.longestDelay)
    }
}
