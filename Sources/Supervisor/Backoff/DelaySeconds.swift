// Backoff arithmetic runs on `Double` seconds: `Duration` is 128-bit and its operators trap on overflow, while a
// `Double` saturates to infinity, which a `min` with the maximum turns back into a finite delay.

extension Duration {
    /// This duration in seconds, for any `Duration` (its whole range fits a `Double`'s exponent).
    @usableFromInline
    var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// A delay of `seconds`, saturated to `0...Backoff.longestDelay` and rounded to the nearest nanosecond (so
    /// whole milliseconds come out exact: 0.3 s is 299,999,999.99999994 ns in binary); NaN becomes zero. Never traps.
    @inlinable
    static func delay(seconds: Double) -> Duration {
        // `> 0` is false for NaN as well as for negatives.
        guard seconds > 0 else { return .zero }
        let clamped = Swift.min(seconds, Backoff.longestDelaySeconds)
        return .nanoseconds(Int64((clamped * 1e9).rounded()))
    }
}

/// Validates a duration given as a backoff parameter and returns it in seconds, saturated to the longest delay.
func validatedSeconds(
    _ value: Duration,
    _ option: String,
    allowZero: Bool = true
) throws(ConfigurationError) -> Double {
    if value < .zero || (!allowZero && value == .zero) {
        throw ConfigurationError(
            .outOfRange,
            option: option,
            "must be \(allowZero ? "zero or more" : "more than zero"), got \(value)"
        )
    }
    return Swift.min(value.inSeconds, Backoff.longestDelaySeconds)
}

/// Validates a finite floating-point parameter in `range`.
func validated(_ value: Double, _ option: String, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
    guard value.isFinite else {
        throw ConfigurationError(.notFinite, option: option, "must be a finite number, got \(value)")
    }
    guard range.contains(value) else {
        // An open-ended range says only its lower end; whole numbers print without a fraction ("1", not "1.0").
        let requirement =
            range.upperBound == .greatestFiniteMagnitude
            ? "must be at least \(plain(range.lowerBound))"
            : "must be in \(plain(range.lowerBound))...\(plain(range.upperBound))"
        throw ConfigurationError(.outOfRange, option: option, "\(requirement), got \(plain(value))")
    }
    return value
}

/// A number as a person writes it: `1` rather than `1.0`, `0.5` as it is.
private func plain(_ value: Double) -> String {
    if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
}
