// Every conversion between `Duration` and a plain number in the module lives here, so that each has one definition
// and one place that says where it saturates:
// - `Double` seconds for backoff arithmetic: `Duration` is 128-bit and its operators trap on overflow, while a
//   `Double` saturates to infinity, which a `min` with the maximum turns back into a finite delay;
// - whole nanoseconds as `Int64` for the timer internals: what the deadline heap stores (8 bytes an instant instead
//   of a `Duration`'s 16) and what a supervisor keeps its run's origin in.

extension Duration {
    /// This duration in seconds, for any `Duration` (its whole range fits a `Double`'s exponent).
    ///
    /// ```swift
    /// Duration.milliseconds(1_500).inSeconds  // 1.5
    /// ```
    @usableFromInline
    var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// A delay of `seconds`, saturated to `0...Backoff.longestDelay` and rounded to the nearest nanosecond (so
    /// whole milliseconds come out exact: 0.3 s is 299,999,999.99999994 ns in binary); NaN becomes zero. Never traps.
    ///
    /// ```swift
    /// Duration.delay(seconds: 0.3)  // .milliseconds(300)
    /// Duration.delay(seconds: -1)   // .zero
    /// ```
    @inlinable
    static func delay(seconds: Double) -> Duration {
        // `> 0` is false for NaN as well as for negatives.
        guard seconds > 0 else { return .zero }
        let clamped = Swift.min(seconds, Backoff.longestDelaySeconds)
        return .nanoseconds(Int64((clamped * 1e9).rounded()))
    }

    /// `nanoseconds` as a duration, without the generic `Duration.nanoseconds(_:)`, which unspecialized code (a
    /// supervisor's loop) would run through `BinaryInteger`'s witness table.
    ///
    /// ```swift
    /// Duration.exactNanoseconds(1_500_000_000)  // .milliseconds(1_500)
    /// ```
    static func exactNanoseconds(_ nanoseconds: Int64) -> Duration {
        let (seconds, remainder) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        return Duration(secondsComponent: seconds, attosecondsComponent: remainder * 1_000_000_000)
    }

    /// This duration in whole nanoseconds, clamped to what an `Int64` holds (292 years either way; `Int64.min` is
    /// left out, it is `Alarm.noDeadline`).
    ///
    /// ```swift
    /// Duration.seconds(2).nanosecondsClamped           // 2_000_000_000
    /// Duration.seconds(Int64.max).nanosecondsClamped   // Int64.max
    /// ```
    var nanosecondsClamped: Int64 {
        // Compared first: `components` traps for a duration whose seconds do not fit an `Int64`.
        if self >= Duration.nanosecondsLimit { return .max }
        if self <= Duration.negativeNanosecondsLimit { return .min + 1 }
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min + 1 : .max }
        let (sum, overflowSum) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflowSum { return seconds < 0 ? .min + 1 : .max }
        return sum
    }

    /// `Int64.max` nanoseconds: beyond it, a duration clamps.
    private static let nanosecondsLimit = Duration(secondsComponent: Int64.max / 1_000_000_000, attosecondsComponent: 0)
    private static let negativeNanosecondsLimit = Duration(
        secondsComponent: Int64.min / 1_000_000_000, attosecondsComponent: 0)
}
