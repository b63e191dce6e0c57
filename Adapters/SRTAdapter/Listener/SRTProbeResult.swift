/// What a self-probe of a listener found.
///
/// ```swift
/// let result = await listener.probe()
/// if !result.isAlive { logger.error("listener deaf: \(result)") }   // dead after ~500 ms: 1001
/// ```
public struct SRTProbeResult: Sendable, CustomStringConvertible {
    /// The listener answered the reserved stream id with the adapter's private reject code: its receive thread runs.
    public let isAlive: Bool
    /// How long the probe took: milliseconds when alive, the connect timeout when dead.
    public let latency: Duration
    /// What the probe's connect ended with (1002 with the private code when alive, 1001 when dead).
    public let error: SRTError?

    public var description: String {
        "\(isAlive ? "alive" : "dead") after \(latency)" + (error.map { ": \($0)" } ?? "")
    }
}
