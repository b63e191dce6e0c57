/// How late a backoff timer may fire, passed to `Clock.sleep(until:tolerance:)`.
///
/// Stated explicitly because the default otherwise depends on the platform (timers on Linux and Darwin may
/// coalesce wake-ups by up to about a tenth of the delay). A tolerance lets the system batch the wake-ups of
/// many parked supervisors; ``exact`` asks for none.
///
/// ```swift
/// let policy = try RestartPolicy(timerTolerance: .fraction(0.05))
/// ```
public struct TimerTolerance: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case exact
        case fixed(Duration)
        case fraction(Double)
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// No tolerance: the clock is asked to wake exactly at the deadline.
    public static let exact = TimerTolerance(.exact)

    /// A tenth of each delay: the library's default, matching the leeway platforms apply by themselves.
    public static let standard = TimerTolerance(.fraction(0.1))

    /// The same tolerance for every delay.
    ///
    /// - Throws: ``ConfigurationError`` when `tolerance` is negative.
    public static func fixed(_ tolerance: Duration) throws(ConfigurationError) -> TimerTolerance {
        guard tolerance >= .zero else {
            throw ConfigurationError(.outOfRange, option: "timerTolerance", "must be zero or more, got \(tolerance)")
        }
        return TimerTolerance(.fixed(tolerance))
    }

    /// A fraction of each delay, in `0...1`.
    ///
    /// - Throws: ``ConfigurationError`` unless `fraction` is finite and in `0...1`.
    public static func fraction(_ fraction: Double) throws(ConfigurationError) -> TimerTolerance {
        TimerTolerance(.fraction(try validated(fraction, "timerTolerance", in: 0...1)))
    }

    /// The tolerance for a sleep of `delay`, or `nil` for exact.
    func tolerance(for delay: Duration) -> Duration? {
        switch kind {
        case .exact: nil
        case .fixed(let tolerance): tolerance
        case .fraction(let fraction): .delay(seconds: delay.inSeconds * fraction)
        }
    }

    public var description: String {
        switch kind {
        case .exact: "exact"
        case .fixed(let tolerance): "\(tolerance)"
        case .fraction(let fraction): "\(fraction) of the delay"
        }
    }
}
