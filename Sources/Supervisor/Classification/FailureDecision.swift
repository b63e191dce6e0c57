/// What a failure means for the resource that failed.
///
/// | decision | meaning | a supervisor … |
/// | --- | --- | --- |
/// | ``restart`` | transient: it will probably pass | backs off on its schedule, then starts again |
/// | ``restart(after:)`` | transient, and the error says when to try again (a retry-after) | waits the hint instead of the schedule's delay |
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

    /// Transient, with a hint for when to try again; negative hints count as zero.
    public static func restart(after hint: Duration) -> FailureDecision {
        FailureDecision(.restartAfter(hint < .zero ? .zero : hint))
    }

    /// Fatal: do not try again; surface the error.
    public static let giveUp = FailureDecision(.giveUp)

    /// Not a failure: shut down cleanly, without an error.
    public static let stop = FailureDecision(.stop)

    /// Whether the resource should be tried again (``restart`` or ``restart(after:)``).
    public var isRestart: Bool {
        switch kind {
        case .restart, .restartAfter: true
        case .giveUp, .stop: false
        }
    }

    /// The delay hint of ``restart(after:)``, or `nil`.
    public var hint: Duration? {
        if case .restartAfter(let hint) = kind { hint } else { nil }
    }

    /// A short label for logs and metrics: `restart`, `restart-after`, `give-up`, `stop`.
    public var label: String { Self.labels[ordinal] }

    static let labels = ["restart", "restart-after", "give-up", "stop"]

    /// The index of this decision's label in `labels`.
    var ordinal: Int {
        switch kind {
        case .restart: 0
        case .restartAfter: 1
        case .giveUp: 2
        case .stop: 3
        }
    }

    public var description: String {
        switch kind {
        case .restartAfter(let hint): "restart after \(hint)"
        default: label
        }
    }
}
