/// What a supervisor does when its ``RestartIntensity`` trips.
///
/// - ``giveUp``: stop and throw ``SupervisorError`` with the code ``SupervisorError/Code/intensityExceeded``,
///   carrying the last failure: the Erlang/OTP way, for a parent to handle.
/// - ``degrade(probeInterval:probeJitter:)``: keep trying at a slow interval and report a degraded state; the first
///   run that stays up for the policy's stable uptime returns the supervisor to normal. The right choice for a
///   server that should come back by itself when the network does. The probes are jittered
///   (``standardProbeJitter``, ±20 % around the interval) so that supervisors degraded together do not probe
///   together; pass `probeJitter: .none` for exact probes.
///
/// ```swift
/// let policy = try RestartPolicy(
///     intensity: RestartIntensity(maxRestarts: 10, within: .seconds(60)),
///     escalation: .degrade(probeInterval: .seconds(30))
/// )
/// ```
public struct Escalation: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case giveUp
        case degrade(probeInterval: Duration, jitter: Jitter)
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// Stop with a ``SupervisorError`` carrying the last failure.
    public static let giveUp = Escalation(.giveUp)

    /// How degraded probes are jittered unless told otherwise: ±20 % around the interval (gRPC's connection
    /// backoff spread), so the mean stays the interval and supervisors degraded at one instant drift apart.
    public static let standardProbeJitter = Jitter.proportional(fraction: 0.2)

    /// Keep probing about every `probeInterval`, each probe's delay jittered by `probeJitter`, and report a degraded
    /// state until a run is stable again.
    ///
    /// ```swift
    /// let jittered = try Escalation.degrade(probeInterval: .seconds(30))  // each probe 24–36 s after the last
    /// let exact = try Escalation.degrade(probeInterval: .seconds(30), probeJitter: .none)  // every 30 s
    /// ```
    ///
    /// - Throws: ``ConfigurationError`` unless `probeInterval` is positive and at most `Backoff.longestDelay`.
    public static func degrade(
        probeInterval: Duration,
        probeJitter: Jitter = Escalation.standardProbeJitter
    ) throws(ConfigurationError) -> Escalation {
        guard probeInterval > .zero, probeInterval <= Backoff.longestDelay else {
            throw ConfigurationError(
                .outOfRange,
                option: "probeInterval",
                "must be more than zero and at most \(Backoff.longestDelay), got \(probeInterval)"
            )
        }
        return Escalation(.degrade(probeInterval: probeInterval, jitter: probeJitter))
    }

    /// The probe interval of ``degrade(probeInterval:probeJitter:)``, or `nil` for ``giveUp``.
    public var probeInterval: Duration? {
        if case .degrade(let interval, _) = kind { interval } else { nil }
    }

    /// The jitter of each degraded probe's delay; `nil` for ``giveUp``.
    public var probeJitter: Jitter? {
        if case .degrade(_, let jitter) = kind { jitter } else { nil }
    }

    public var description: String {
        switch kind {
        case .giveUp: "give up"
        case .degrade(let interval, let jitter) where jitter == .none: "degrade, probing every \(interval)"
        case .degrade(let interval, let jitter): "degrade, probing about every \(interval) (jitter \(jitter))"
        }
    }
}
