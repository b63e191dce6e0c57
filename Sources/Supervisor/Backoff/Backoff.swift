/// A schedule of delays between attempts: a curve, a jitter, optional hard bounds and an optional retry limit.
///
/// `Backoff` is a plain value: cheap to copy, `Sendable`, free of clocks and I/O. It describes the delays; a
/// ``BackoffSchedule`` made from it hands them out one attempt at a time, and `nil` means "stop trying":
///
/// ```swift
/// let backoff = try Backoff.exponential(initial: .milliseconds(100), multiplier: 2, maximum: .seconds(30))
///     .jitter(.full)
///     .limited(toRetries: 10)
///
/// var schedule = backoff.makeSchedule()
/// var generator = SystemRandomNumberGenerator()
/// while let delay = schedule.next(using: &generator) {
///     try await Task.sleep(for: delay)
///     // try again …
/// }
/// ```
///
/// Delays are numbered from 1: delay `n` comes before the `n`-th retry, that is after the `n`-th consecutive failed
/// attempt (attempt `n + 1` follows it). Each kind's documentation states its formula in terms of `n`. An attempt is
/// a call everywhere in this library; a retry is an attempt after a delay, so `limited(toRetries: 4)` allows five
/// attempts in all.
///
/// The order of operations for one attempt is fixed and documented:
/// 1. the curve gives `d(n)`, already capped at the curve's own maximum;
/// 2. the ``Jitter`` randomizes it (so delays at the cap stay spread out);
/// 3. ``clamped(to:)``, if set, bounds the result; it is the only bound that holds after jitter;
/// 4. the result saturates to ``longestDelay``, which no delay exceeds.
///
/// Delays are computed in `Double` seconds and handed out in whole nanoseconds: exact for whole milliseconds up
/// to about a century, otherwise within one part in 10¹² of the formula (a cap of 9806263.538357783 s may come out
/// 3 ns larger). No input traps: attempt numbers run up to `Int.max`, multipliers and maxima of any finite size
/// saturate.
public struct Backoff: Sendable, CustomStringConvertible {
    @usableFromInline
    let curve: Curve
    @usableFromInline
    var jitterKind: Jitter = .none
    @usableFromInline
    var lowerBound: Double = 0
    @usableFromInline
    var upperBound: Double = Backoff.longestDelaySeconds
    @usableFromInline
    var retryLimit: Int = .max

    init(curve: Curve) {
        self.curve = curve
    }

    /// No delay this library produces is longer than this (100 years): `Clock.now + delay` stays far from the
    /// edge of any clock's range. Larger values, from a huge maximum or a huge multiplier, saturate here.
    public static let longestDelay: Duration = .seconds(Int64(longestDelaySeconds))

    @usableFromInline
    static let longestDelaySeconds: Double = 100 * 365.25 * 86_400

    /// The jitter applied to every delay of this backoff (``Jitter/none`` unless set).
    public var jitter: Jitter { jitterKind }

    /// The most delays (retries) this backoff hands out, or `nil` for no limit.
    public var maxRetries: Int? { retryLimit == .max ? nil : retryLimit }

    @available(*, unavailable, renamed: "maxRetries", message: "it counts delays (retries), not calls")
    public var maxAttempts: Int? { maxRetries }

    /// The same backoff with `jitter` applied to every delay, after the curve's own maximum.
    public func jitter(_ jitter: Jitter) -> Backoff {
        var copy = self
        copy.jitterKind = jitter
        return copy
    }

    /// The same backoff with every delay, after jitter, bounded to `bounds`.
    ///
    /// Use it for a floor (never retry sooner than 10 ms) or for a hard ceiling that jitter may not exceed.
    ///
    /// - Throws: ``ConfigurationError`` when the lower bound is negative.
    public func clamped(to bounds: ClosedRange<Duration>) throws(ConfigurationError) -> Backoff {
        var copy = self
        copy.lowerBound = try validatedSeconds(bounds.lowerBound, "minimum delay")
        copy.upperBound = try validatedSeconds(bounds.upperBound, "maximum delay")
        return copy
    }

    /// The same backoff that gives up (returns `nil`) after `retries` delays: at most `retries + 1` attempts.
    ///
    /// - Throws: ``ConfigurationError`` when `retries` is negative. Zero gives up at once (one attempt, no retry).
    public func limited(toRetries retries: Int) throws(ConfigurationError) -> Backoff {
        guard retries >= 0 else {
            throw ConfigurationError(.outOfRange, option: "maxRetries", "must be zero or more, got \(retries)")
        }
        var copy = self
        copy.retryLimit = retries
        return copy
    }

    @available(*, unavailable, renamed: "limited(toRetries:)", message: "it counts delays (retries), not calls")
    public func limited(toAttempts attempts: Int) throws(ConfigurationError) -> Backoff {
        try limited(toRetries: attempts)
    }

    /// A fresh schedule that starts at delay 1.
    public func makeSchedule() -> BackoffSchedule {
        BackoffSchedule(self)
    }

    public var description: String {
        var text = "\(curve) jitter \(jitterKind)"
        if lowerBound > 0 || upperBound < Backoff.longestDelaySeconds {
            text += " clamped \(Duration.delay(seconds: lowerBound))...\(Duration.delay(seconds: upperBound))"
        }
        if let maxRetries {
            text += " at most \(maxRetries) retries"
        }
        return text
    }
}
