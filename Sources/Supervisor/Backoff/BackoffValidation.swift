// The checks every backoff option goes through: a typed `ConfigurationError` for a bad value, never a trap. The
// conversions they use are in `Duration+Conversions.swift`.

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
