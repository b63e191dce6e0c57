/// What a supervisor does when `run(_:)` returns without an error.
///
/// A listener or a receiver is meant to run until it is stopped, so by default a normal return counts as a death
/// and is restarted (Erlang/OTP's `permanent`). A job that may legitimately finish uses ``finish``
/// (OTP's `transient`).
public struct CompletionBehavior: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case restart
        case finish
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// Restart as after a failure (the default): the resource was supposed to keep running.
    public static let restart = CompletionBehavior(.restart)
    /// Stop supervising; `run()` returns normally.
    public static let finish = CompletionBehavior(.finish)

    public var description: String {
        switch kind {
        case .restart: "restart"
        case .finish: "finish"
        }
    }
}
