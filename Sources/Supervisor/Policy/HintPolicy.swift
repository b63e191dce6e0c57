/// What a retry-after hint does to the delay: the wait an error asks for with ``FailureDecision/restart(after:)``
/// (an HTTP 429's `Retry-After`, a server's "come back in 5 s").
///
/// | policy | delay after a failure with hint `h`, when the schedule gives `d` |
/// | --- | --- |
/// | ``floor`` (the default) | `max(h, d)` |
/// | ``floor(spread:)`` with `f` | `max(h·(1 + U(0, f)), d)` |
/// | ``exact`` | `h` |
///
/// A hint is a floor by default: the server's word is the least the client waits, and a backoff that has grown
/// past it keeps growing. Many clients told the same "retry after 5 s" return in lockstep unless the hint is
/// spread: ``floor(spread:)`` adds up to the fraction `f` of the hint, never less than the hint itself.
///
/// The result stays within the backoff's ``Backoff/clamped(to:)`` bounds and ``Backoff/longestDelay``; in the
/// degraded state the delay is `max(probe interval, hint)`.
///
/// ```swift
/// let policy = try RestartPolicy(hints: .floor(spread: 0.2))
/// ```
public struct HintPolicy: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case floor(spread: Double)
        case exact
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// The hint is the least delay: `max(hint, scheduled delay)`.
    public static let floor = HintPolicy(.floor(spread: 0))

    /// The hint replaces the scheduled delay, as it is.
    public static let exact = HintPolicy(.exact)

    /// The hint, lengthened by up to the fraction `spread` of itself (uniformly), is the least delay.
    ///
    /// - Throws: ``ConfigurationError`` unless `spread` is a finite number in `0...1`.
    public static func floor(spread: Double) throws(ConfigurationError) -> HintPolicy {
        HintPolicy(.floor(spread: try validated(spread, "hint spread", in: 0...1)))
    }

    /// The delay after a failure: `scheduled` when there is no hint, else what this policy makes of the hint,
    /// within `backoff`'s bounds. Draws from `generator` only for a spread hint.
    func delay<G: RandomNumberGenerator>(
        hint: Duration?,
        scheduled: Duration,
        within backoff: Backoff,
        using generator: inout G
    ) -> Duration {
        guard let hint else { return scheduled }
        let seconds: Double
        switch kind {
        case .exact:
            seconds = hint.inSeconds
        case .floor(let spread):
            let spreadHint = spread > 0 ? hint.inSeconds * (1 + spread * generator.nextUnitInterval()) : hint.inSeconds
            seconds = Swift.max(spreadHint, scheduled.inSeconds)
        }
        return .delay(seconds: Swift.min(Swift.max(seconds, backoff.lowerBound), backoff.upperBound))
    }

    public var description: String {
        switch kind {
        case .floor(let spread) where spread > 0: "floor, spread \(spread)"
        case .floor: "floor"
        case .exact: "exact"
        }
    }
}
