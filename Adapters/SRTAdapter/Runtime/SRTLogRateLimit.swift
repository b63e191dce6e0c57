public import Supervisor

/// How many of libsrt's messages of one kind reach the logger: the first ``burst`` of an episode, then one summary
/// line per ``interval`` with the count of those left out. A kind is one line of libsrt's source (its file and
/// line), so a flood of rejected handshakes ("KMREQ result abnornal", one per handshake) costs a few lines and a
/// summary, while different messages never hide each other. Critical messages always arrive.
///
/// ```swift
/// SRTRuntime.start(logger: logger, logLevel: .warning, logRateLimit: .standard)            // 5, then 1 per 10 s
/// SRTRuntime.start(logger: logger, logRateLimit: try SRTLogRateLimit(burst: 20, interval: .seconds(60)))
/// // A summary line: "412 more messages like this in the last 10.0 seconds: <the last of them>", with the
/// // metadata srt.suppressed=412.
/// ```
public struct SRTLogRateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Messages of one kind logged at the start of an episode (0 to 1,000).
    public let burst: Int
    /// The most one summary covers, and the quiet time (no message of the kind) that ends an episode: 1 ms to 1 h.
    public let interval: Duration

    /// - Throws: `ConfigurationError` (`outOfRange`) for a burst outside 0...1000 or an interval outside 1 ms...1 h.
    public init(burst: Int, interval: Duration) throws(ConfigurationError) {
        guard (0...1_000).contains(burst) else {
            throw ConfigurationError(.outOfRange, option: "burst", "must be 0 to 1000, got \(burst)")
        }
        guard interval >= .milliseconds(1), interval <= .seconds(3_600) else {
            throw ConfigurationError(.outOfRange, option: "interval", "must be 1 ms to 1 h, got \(interval)")
        }
        self.burst = burst
        self.interval = interval
    }

    private init(valid burst: Int, interval: Duration) {
        self.burst = burst
        self.interval = interval
    }

    /// The first 5 messages of a kind, then one summary per 10 s.
    public static let standard = SRTLogRateLimit(valid: 5, interval: .seconds(10))

    public var description: String {
        "\(burst) of a kind, then 1 summary per \(interval)"
    }
}
