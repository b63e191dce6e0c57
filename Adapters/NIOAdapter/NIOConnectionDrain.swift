public import Supervisor

/// What a ``NIOServerResource`` does with the connections it accepted when serving ends for good (its run is
/// cancelled: the supervisor's task is cancelled, or a `ServiceGroup` shuts down gracefully): each gets a
/// `ChannelShouldQuiesceEvent`, so that its handlers can finish what they are doing and close; those still open
/// when the grace period ends are closed. A restart of the listening channel (it closed by itself) leaves them be.
///
/// ```swift
/// let server = try NIOServerResource(
///     host: "0.0.0.0", port: 8080, drain: try NIOConnectionDrain(gracePeriod: .seconds(2))
/// ) { channel in
///     channel.pipeline.addHandler(RequestHandler())  // closes after its reply on ChannelShouldQuiesceEvent
/// }
/// ```
public struct NIOConnectionDrain: Sendable, Hashable, CustomStringConvertible {
    /// How long connections have between the quiesce event and their close; zero closes them at once, without the
    /// event.
    public let gracePeriod: Duration

    /// The longest grace period: one hour.
    public static let longestGracePeriod = Duration.seconds(3_600)

    /// - Parameter gracePeriod: how long connections have, from the quiesce event, to close by themselves.
    /// - Throws: `ConfigurationError` (`outOfRange`, option `gracePeriod`) below zero or above
    ///   ``longestGracePeriod``.
    public init(gracePeriod: Duration) throws(ConfigurationError) {
        guard gracePeriod >= .zero, gracePeriod <= Self.longestGracePeriod else {
            throw ConfigurationError(
                .outOfRange, option: "gracePeriod", "must be 0 s to 3600 s, got \(gracePeriod)")
        }
        self.gracePeriod = gracePeriod
    }

    private init(unchecked gracePeriod: Duration) {
        self.gracePeriod = gracePeriod
    }

    /// Five seconds: enough to finish a reply in flight, and within a `RestartPolicy`'s standard stop timeout
    /// (10 s), so the supervisor waits for the whole drain.
    public static let standard = NIOConnectionDrain(unchecked: .seconds(5))

    /// No grace: every connection is closed as soon as serving ends.
    public static let immediate = NIOConnectionDrain(unchecked: .zero)

    public var description: String {
        gracePeriod == .zero ? "close connections at once" : "quiesce connections, close them after \(gracePeriod)"
    }
}
