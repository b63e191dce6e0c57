/// What a failure means for the resource that failed.
///
/// | decision | meaning | a supervisor … |
/// | --- | --- | --- |
/// | ``restart`` | transient: it will probably pass | backs off on its schedule, then starts again |
/// | ``restart(after:)`` | transient, and the error says when to try again (a retry-after) | waits at least the hint (see ``HintPolicy``) |
/// | ``restartNow`` | transient and already over: a fresh start needs no wait (a dead socket replaced, an operator's restart) | starts again after only the policy's minimum restart delay |
/// | ``giveUp`` | fatal: retrying cannot help (bad configuration, permission denied) | stops and surfaces the error |
/// | ``stop`` | not a failure: a clean shutdown (cancellation, a socket we closed ourselves) | stops without an error |
///
/// A struct with static members rather than an enum, so that decisions can be added without breaking a
/// `switch` in user code. Compare with `==`:
///
/// ```swift
/// if classifier.classify(error) == .giveUp { … }
/// ```
public struct FailureDecision: Hashable, Sendable, CustomStringConvertible {
    @usableFromInline
    enum Kind: Hashable, Sendable {
        case restart
        case restartAfter(Duration)
        case restartNow
        case giveUp
        case stop
    }

    @usableFromInline
    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// Transient: back off on the schedule, then try again.
    public static let restart = FailureDecision(.restart)

    /// Transient, with a hint for when to try again (a retry-after): by default the least delay, the schedule's
    /// delay when that is longer (see ``HintPolicy``). Negative hints count as zero. To skip the schedule, use
    /// ``restartNow``.
    public static func restart(after hint: Duration) -> FailureDecision {
        FailureDecision(.restartAfter(hint < .zero ? .zero : hint))
    }

    /// Transient and already over: start again after only the policy's `minimumRestartDelay`, whatever the
    /// schedule says (a socket that died and that a fresh one replaces, a restart an operator asked for). The
    /// schedule still advances and the restart intensity still counts it, so a storm of them is bounded.
    public static let restartNow = FailureDecision(.restartNow)

    /// Fatal: do not try again; surface the error.
    public static let giveUp = FailureDecision(.giveUp)

    /// Not a failure: shut down cleanly, without an error.
    public static let stop = FailureDecision(.stop)

    /// Whether the resource should be tried again (``restart`` or ``restart(after:)``).
    public var isRestart: Bool {
        switch kind {
        case .restart, .restartAfter, .restartNow: true
        case .giveUp, .stop: false
        }
    }

    /// The delay hint of ``restart(after:)``, or `nil`.
    public var hint: Duration? {
        if case .restartAfter(let hint) = kind { hint } else { nil }
    }

    /// A short label for logs and metrics: `restart`, `restart-after`, `restart-now`, `give-up`, `stop`.
    public var label: String { Self.labels[ordinal] }

    static let labels = ["restart", "restart-after", "restart-now", "give-up", "stop"]

    /// The index of this decision's label in `labels`.
    var ordinal: Int {
        switch kind {
        case .restart: 0
        case .restartAfter: 1
        case .restartNow: 2
        case .giveUp: 3
        case .stop: 4
        }
    }

    public var description: String {
        switch kind {
        case .restartAfter(let hint): "restart after \(hint)"
        default: label
        }
    }
}
