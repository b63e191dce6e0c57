/// What a group restarts when one of its children fails, as in Erlang/OTP's supervisors.
///
/// - ``oneForOne``: the failed child only.
/// - ``oneForAll``: every child: the others are stopped in reverse order, then all start again in order.
/// - ``restForOne``: the failed child and those after it: the later ones are stopped in reverse order, then the
///   failed one and the later ones start again in order. For children that depend on the ones before them (a
///   forwarder on its listener).
///
/// The failed child's own supervisor starts it again after its own backoff, once the group lets it: at once under
/// ``oneForOne``, otherwise once the siblings named are stopped and those before it have started.
public struct GroupStrategy: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case oneForOne
        case oneForAll
        case restForOne
    }

    let kind: Kind

    /// Restart the failed child only.
    public static let oneForOne = GroupStrategy(kind: .oneForOne)
    /// Stop every other child in reverse order, then start all in order.
    public static let oneForAll = GroupStrategy(kind: .oneForAll)
    /// Stop the children after the failed one in reverse order, then start the failed one and those after it.
    public static let restForOne = GroupStrategy(kind: .restForOne)

    public var description: String {
        switch kind {
        case .oneForOne: "one for one"
        case .oneForAll: "one for all"
        case .restForOne: "rest for one"
        }
    }
}
