/// What a supervisor does when its ``RestartIntensity`` trips.
///
/// - ``giveUp``: stop and throw ``SupervisorError`` with the code ``SupervisorError/Code/intensityExceeded``,
///   carrying the last failure: the Erlang/OTP way, for a parent to handle.
/// - ``degrade(probeInterval:)``: keep trying at a slow fixed interval and report a degraded state; the first run
///   that stays up for the policy's stable uptime returns the supervisor to normal. The right choice for a server
///   that should come back by itself when the network does.
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
        case degrade(probeInterval: Duration)
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// Stop with a ``SupervisorError`` carrying the last failure.
    public static let giveUp = Escalation(.giveUp)

    /// Keep probing every `probeInterval` and report a degraded state until a run is stable again.
    ///
    /// - Throws: ``ConfigurationError`` unless `probeInterval` is positive and at most `Backoff.longestDelay`.
    public static func degrade(probeInterval: Duration) throws(ConfigurationError) -> Escalation {
        guard probeInterval > .zero, probeInterval <= Backoff.longestDelay else {
            throw ConfigurationError(
                .outOfRange,
                option: "probeInterval",
                "must be more than zero and at most \(Backoff.longestDelay), got \(probeInterval)"
            )
        }
        return Escalation(.degrade(probeInterval: probeInterval))
    }

    /// The probe interval of ``degrade(probeInterval:)``, or `nil` for ``giveUp``.
    public var probeInterval: Duration? {
        if case .degrade(let interval) = kind { interval } else { nil }
    }

    public var description: String {
        switch kind {
        case .giveUp: "give up"
        case .degrade(let interval): "degrade, probing every \(interval)"
        }
    }
}
