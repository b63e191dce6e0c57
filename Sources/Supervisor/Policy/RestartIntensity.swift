/// At most `maxRestarts` restarts within any window of `period`, as Erlang/OTP's `intensity` and `period`.
///
/// A resource that keeps failing despite the backoff trips the limit, and the policy's ``Escalation`` decides
/// what happens next: give up, or degrade to slow probing.
///
/// ```swift
/// let intensity = try RestartIntensity(maxRestarts: 5, within: .seconds(60))  // the sixth restart in a minute trips
/// ```
public struct RestartIntensity: Hashable, Sendable, CustomStringConvertible {
    /// The most restarts allowed within ``period``.
    public let maxRestarts: Int
    /// The length of the sliding window.
    public let period: Duration

    /// The largest `maxRestarts` accepted: the supervisor keeps the instants of the last `maxRestarts` restarts.
    public static let largestMaxRestarts = 100_000

    /// - Throws: ``ConfigurationError`` unless `maxRestarts` is in `0...100_000` and `period` is positive.
    public init(maxRestarts: Int, within period: Duration) throws(ConfigurationError) {
        guard (0...Self.largestMaxRestarts).contains(maxRestarts) else {
            throw ConfigurationError(
                .outOfRange,
                option: "maxRestarts",
                "must be in 0...\(Self.largestMaxRestarts), got \(maxRestarts)"
            )
        }
        guard period > .zero else {
            throw ConfigurationError(.outOfRange, option: "period", "must be more than zero, got \(period)")
        }
        self.maxRestarts = maxRestarts
        self.period = period
    }

    public var description: String { "\(maxRestarts) restarts in \(period)" }
}
