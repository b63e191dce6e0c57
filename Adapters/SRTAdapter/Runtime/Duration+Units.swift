extension Duration {
    /// The whole milliseconds in it (truncated toward zero), clamped to `Int64`: libsrt's options and timeouts take
    /// milliseconds, and `Duration` holds spans whose milliseconds `Int64` cannot.
    var wholeMilliseconds: Int64 {
        whole(perSecond: 1000)
    }

    /// The whole microseconds in it (truncated toward zero), clamped to `Int64`.
    var wholeMicroseconds: Int64 {
        whole(perSecond: 1_000_000)
    }

    /// The nanoseconds beyond its whole seconds, 0 through 999,999,999 for a positive duration.
    var nanosecondsOfSecond: Int64 {
        components.attoseconds / 1_000_000_000
    }

    private func whole(perSecond: Int64) -> Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: perSecond)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = scaled.addingReportingOverflow(attoseconds / (1_000_000_000_000_000_000 / perSecond))
        if overflowSum { return seconds < 0 ? .min : .max }
        return sum
    }
}
