/// When a group starts a child again after it ended, as in Erlang/OTP's child specifications.
///
/// - ``permanent``: always, after a failure or a normal return.
/// - ``transient``: only after a failure; a normal return leaves it stopped.
/// - ``temporary``: never; the child leaves the group when it ends, and a strategy that restarts the others does
///   not start it again.
public struct ChildRestart: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case permanent
        case transient
        case temporary
    }

    let kind: Kind

    /// Started again whenever it ends.
    public static let permanent = ChildRestart(kind: .permanent)
    /// Started again only after a failure.
    public static let transient = ChildRestart(kind: .transient)
    /// Never started again.
    public static let temporary = ChildRestart(kind: .temporary)

    /// Whether a child that ended (with a failure or not) is started again.
    func restarts(afterFailure failed: Bool) -> Bool {
        switch kind {
        case .permanent: true
        case .transient: failed
        case .temporary: false
        }
    }

    public var description: String {
        switch kind {
        case .permanent: "permanent"
        case .transient: "transient"
        case .temporary: "temporary"
        }
    }
}
