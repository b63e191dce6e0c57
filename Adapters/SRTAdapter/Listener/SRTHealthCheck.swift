public import Supervisor

/// How a supervised listener finds out that its receive thread died (`Docs/libsrt-failure-modes.md §2`).
///
/// ```swift
/// let health = try SRTHealthCheck(probeInterval: .seconds(2), probeTimeout: .milliseconds(500))
/// ```
///
/// Three triggers: libsrt's critical log line (some receive thread of the process died: a listener whose receive
/// thread it names, or that finds its thread gone, is dead at once; one that does not know its thread probes itself
/// once, with ``deathProbeTimeout``); a quick check every ``quickCheckInterval`` that needs no handshake, so that a
/// death the log does not report (a process that routes libsrt's log elsewhere) is found within a second; and a
/// periodic probe every ``probeInterval`` (``probeTimeout``), which must fail ``failedProbesBeforeDead`` times in a
/// row: a loaded machine was measured answering a probe of a live listener in up to 1.4 s, so one slow periodic
/// probe proves nothing. A probe that fails while the listener's address is on no interface means "address gone",
/// and the listener waits for it (§5).
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
    /// Time between quick checks: whether the receive thread still exists (one `tgkill`), or, while the thread is not
    /// known, whether it reads one datagram sent to the listener's own port (unread for 20 ms, the death probe
    /// decides, with ``deathProbeTimeout``, then a watch of the socket for a fifth of ``probeTimeout``). One task
    /// checks every running listener of the process at once, on the shortest interval among them, so a longer one
    /// is rounded to a multiple of it. 250 ms by default: a death with no log line is found within about 0.3 s when
    /// the thread is known, 0.5 s when it is not.
    public let quickCheckInterval: Duration

    /// How long a quick check watches the UDP socket's queue for its datagram to be read. A live receive thread
    /// reads it within microseconds; the window is for a thread that waits for a core.
    static let quickCheckWindow = Duration.milliseconds(20)

    /// Validates every value: intervals and timeouts of 10 ms to 10 min, 1 to 100 failed probes.
    public init(
        probeInterval: Duration = .seconds(5),
        probeTimeout: Duration = .milliseconds(500),
        deathProbeTimeout: Duration = .milliseconds(100),
        failedProbesBeforeDead: Int = 2,
        quickCheckInterval: Duration = .milliseconds(250)
    ) throws(ConfigurationError) {
        for (name, value) in [
            ("probeInterval", probeInterval), ("probeTimeout", probeTimeout), ("deathProbeTimeout", deathProbeTimeout),
            ("quickCheckInterval", quickCheckInterval),
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
        self.quickCheckInterval = quickCheckInterval
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

    /// Probe every 5 s (500 ms, dead after 2 failures), 100 ms after a death signal; a quick check every 250 ms.
    public static let standard: SRTHealthCheck = {
        do { return try SRTHealthCheck() } catch { fatalError("the standard health check is valid: \(error)") }
    }()
}
