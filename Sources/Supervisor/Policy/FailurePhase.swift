/// Where in a resource's cycle a failure happened.
///
/// A *start failure* means the resource never became ready (a bind refused, an address missing); a *run failure*
/// is a death after ready (the socket broke while serving). A ``RestartPolicy`` can classify and back off each
/// phase differently, and events, logs and metrics say which one it was.
public struct FailurePhase: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case start
        case run
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// `start()` threw: the resource never became ready.
    public static let start = FailurePhase(.start)
    /// `run(_:)` threw or ended after the resource was ready.
    public static let run = FailurePhase(.run)

    /// `start` or `run`, for logs and metric dimensions.
    public var label: String {
        switch kind {
        case .start: "start"
        case .run: "run"
        }
    }

    public var description: String { label }
}
