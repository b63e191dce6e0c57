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

    /// The probe never reached the listener: this process could not make the probe's socket (out of file
    /// descriptors, memory or threads: 1000, 1003, 3000–3003). Says nothing about the listener.
    public var isInconclusive: Bool {
        guard !isAlive, let error else { return false }
        return [.connectionSetup, .socketFailure, .resource, .thread, .noBuffer, .systemObject].contains(error.code)
    }

    public var description: String {
        let verdict = isAlive ? "alive" : isInconclusive ? "not sent" : "dead"
        return "\(verdict) after \(latency)" + (error.map { ": \($0)" } ?? "")
    }
}
