/// How a child reports to its group: the child's place in the group and the group to tell.
///
/// A child's supervisor (or a nested group) holds one for its whole run, and so does the task that runs it. Reports
/// go into the group's inbox and are carried out by the group's own task, in the order they were made; the serial
/// tells a report of this run of the child from a late one of an earlier run. The child's path is not kept here: the
/// member carries it as its name (one link per child of a group: every field counts).
final class GroupLink: Sendable {
    /// The child's id in the group's state machine.
    let id: GroupStateMachine.ChildID
    /// Which run of the child this is.
    let serial: UInt64
    let group: SupervisorGroup

    init(id: GroupStateMachine.ChildID, serial: UInt64, group: SupervisorGroup) {
        self.id = id
        self.serial = serial
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

    /// The child's member returned (`error == nil`) or threw.
    func ended(_ error: (any Error)?) {
        group.report(.ended(id, serial: serial, error: error))
    }

    /// Waits until the group lets the child start: at once the first time, after a failure when the group's
    /// strategy says. `false` when the waiting task was cancelled.
    func awaitStart() async -> Bool {
        await group.awaitStart(of: id, serial: serial)
    }

    /// Whether anybody takes the child's events: a subscriber of this group or of one above it.
    var forwardsEvents: Bool { group.forwardsEvents }

    /// Passes one of the child's events up, with the child's path in the tree (`relay/listener`).
    func forward(_ event: SupervisorEvent, path: String) {
        group.publishChild(GroupEvent(path: path, event: event))
    }
}
