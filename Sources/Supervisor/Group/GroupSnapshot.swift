/// A group's children and what each is doing, at one moment: what Erlang's `supervisor:which_children` answers.
///
/// Its description draws the tree, one child a line:
///
/// ```
/// relay (rest for one): ready
/// ├─ listener (permanent): running, ready
/// ├─ metrics (permanent): restarting, backing off 2.0 seconds
/// └─ streams (one for one): running, ready
///    └─ live.1 (temporary): running, ready
/// ```
public struct GroupSnapshot: Sendable, CustomStringConvertible {
    /// Where the group sits in its tree (`relay/streams`).
    public let path: String
    public let strategy: GroupStrategy
    /// The group's own state: starting until its children have started, then ready, then stopped.
    public let state: SupervisorState
    /// In their order in the group.
    public let children: [Child]

    /// One child.
    public struct Child: Sendable {
        public let name: String
        public let restart: ChildRestart
        public let significant: Bool
        /// Where the group sees it.
        public let status: Status
        /// What its supervisor (or its group) is doing; `nil` while it has none (stopped).
        public let detail: Detail?
    }

    /// Where a child is, as its group sees it.
    public enum Status: Sendable, CustomStringConvertible {
        /// Not running: not started yet, or ended and not restarted (a transient child that returned).
        case stopped
        /// Started, not ready yet.
        case starting
        case running
        /// Failed; its own supervisor is starting it again.
        case restarting
        /// Being stopped by the group.
        case stopping

        public var description: String {
            switch self {
            case .stopped: "stopped"
            case .starting: "starting"
            case .running: "running"
            case .restarting: "restarting"
            case .stopping: "stopping"
            }
        }
    }

    /// What keeps a child.
    public indirect enum Detail: Sendable {
        /// A resource or service: its supervisor's state.
        case resource(SupervisorState)
        /// A nested group.
        case group(GroupSnapshot)
    }

    public var description: String {
        var lines: [String] = []
        draw(into: &lines, name: path, prefix: "", childPrefix: "")
        return lines.joined(separator: "\n")
    }

    private func draw(into lines: inout [String], name: String, prefix: String, childPrefix: String) {
        lines.append("\(prefix)\(name) (\(strategy)): \(state)")
        for (index, child) in children.enumerated() {
            let last = index == children.count - 1
            let branch = childPrefix + (last ? "└─ " : "├─ ")
            let below = childPrefix + (last ? "   " : "│  ")
            switch child.detail {
            case .group(let group):
                group.draw(into: &lines, name: child.name, prefix: branch, childPrefix: below)
            case .resource(let state):
                lines.append("\(branch)\(child.name) (\(child.restart)): \(child.status), \(state)")
            case nil:
                lines.append("\(branch)\(child.name) (\(child.restart)): \(child.status)")
            }
        }
    }
}
