public import Supervisor

/// How a supervised listener finds out that its receive thread died (`Docs/libsrt-failure-modes.md §2`).
///
/// ```swift
/// let health = try SRTHealthCheck(probeInterval: .seconds(2), probeTimeout: .milliseconds(500))
/// ```
///
/// Two triggers: libsrt's critical log line (some receive thread of the process died: every listener probes
/// itself once, with ``deathProbeTimeout``), and a periodic probe every ``probeInterval`` (``probeTimeout``),
/// which must fail ``failedProbesBeforeDead`` times in a row: a loaded machine was measured answering a probe
/// of a live listener in up to 1.4 s, so one slow periodic probe proves nothing. A probe that fails while the
/// listener's address is on no interface means "address gone", and the listener waits for it (§5).
public struct SRTHealthCheck: Sendable, Hashable {
    /// Time between periodic probes.
    public let probeInterval: Duration
    /// How long a periodic probe waits for the listener's answer.
    public let probeTimeout: Duration
    /// How long the probe after a death signal waits, for a listener that does not know its receive thread yet
    /// (one that does decides by the thread, without a probe). Short: the signal already says some listener is
    /// deaf, and this timeout is then most of the recovery time. A live listener answers in 0.5 to 20 ms when the
    /// machine is not starved; too short a value retires a live but starved listener, which costs its connections.
    public let deathProbeTimeout: Duration
    /// Consecutive failed periodic probes that mean "dead".
    public let failedProbesBeforeDead: Int

    /// Validates every value: intervals and timeouts of 10 ms to 10 min, 1 to 100 failed probes.
    public init(
        probeInterval: Duration = .seconds(5),
        probeTimeout: Duration = .milliseconds(500),
        deathProbeTimeout: Duration = .milliseconds(100),
        failedProbesBeforeDead: Int = 2
    ) throws(ConfigurationError) {
        for (name, value) in [
            ("probeInterval", probeInterval), ("probeTimeout", probeTimeout), ("deathProbeTimeout", deathProbeTimeout),
        ] where value < .milliseconds(10) || value > .seconds(600) {
            throw ConfigurationError(.outOfRange, option: name, "must be 10 ms to 10 min, got \(value)")
        }
        guard (1...100).contains(failedProbesBeforeDead) else {
            throw ConfigurationError(
                .outOfRange, option: "failedProbesBeforeDead", "must be 1 to 100, got \(failedProbesBeforeDead)")
        }
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        self.deathProbeTimeout = deathProbeTimeout
        self.failedProbesBeforeDead = failedProbesBeforeDead
    }

    /// The probes' timeouts for a listener whose access control waits up to `accessDeadline` for each caller's
    /// decision: a probe's handshake can queue behind one such decision on libsrt's receive thread, so a timeout
    /// no longer than the deadline could count a live listener as dead. Such a timeout is lengthened by the deadline;
    /// others are kept (the default 50 ms deadline leaves the default 100 ms and 500 ms as they are).
    func timeouts(behind accessDeadline: Duration?) -> (probe: Duration, death: Duration) {
        func lengthened(_ timeout: Duration) -> Duration {
            guard let accessDeadline, accessDeadline >= timeout else { return timeout }
            return timeout + accessDeadline
        }
        return (lengthened(probeTimeout), lengthened(deathProbeTimeout))
    }

    /// Probe every 5 s (500 ms, dead after 2 failures), 100 ms after a death signal.
    public static let standard: SRTHealthCheck = {
        do { return try SRTHealthCheck() } catch { fatalError("the standard health check is valid: \(error)") }
    }()
}
