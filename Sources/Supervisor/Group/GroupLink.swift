/// How a child reports to its group: the child's place in the group and the group to tell.
///
/// A child's supervisor (or a nested group) holds one for its whole run. Reports go into the group's inbox and are
/// carried out by the group's own task, in the order they were made; the serial tells a report of this run of the
/// child from a late one of an earlier run.
final class GroupLink: Sendable {
    /// The child's id in the group's state machine.
    let id: GroupStateMachine.ChildID
    /// Which run of the child this is.
    let serial: UInt64
    /// The child's path in the tree (`relay/listener`), as its events carry it.
    let path: String
    let group: SupervisorGroup

    init(id: GroupStateMachine.ChildID, serial: UInt64, path: String, group: SupervisorGroup) {
        self.id = id
        self.serial = serial
        self.path = path
        self.group = group
    }

    /// The child is ready: its start returned (a group: all of its children started).
    func ready() {
        group.report(.ready(id, serial: serial))
    }

    /// The child failed with `error`, and its own supervisor starts it again.
    func restarting(after error: any Error) {
        group.report(.restarting(id, serial: serial, error: error))
    }

    /// Whether anybody takes the child's events: a subscriber of this group or of one above it.
    var forwardsEvents: Bool { group.forwardsEvents }

    /// Passes one of the child's events up, with the child's path.
    func forward(_ event: SupervisorEvent) {
        group.publishChild(GroupEvent(path: path, event: event))
    }
}
