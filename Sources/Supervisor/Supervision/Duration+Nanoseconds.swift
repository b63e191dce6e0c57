/// Whole nanoseconds as `Int64`: what the deadline heap stores (8 bytes an instant instead of a `Duration`'s 16) and
/// what a supervisor keeps its run's origin in.
extension Duration {
    /// `nanoseconds` as a duration, without the generic `Duration.nanoseconds(_:)`, which unspecialized code (a
    /// supervisor's loop) would run through `BinaryInteger`'s witness table.
    static func exactNanoseconds(_ nanoseconds: Int64) -> Duration {
        let (seconds, remainder) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        return Duration(secondsComponent: seconds, attosecondsComponent: remainder * 1_000_000_000)
    }

    /// This duration in whole nanoseconds, clamped to what an `Int64` holds (292 years either way; `Int64.min` is
    /// left out, it is `Alarm.noDeadline`).
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
