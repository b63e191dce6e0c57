/// Something that happened in a supervision tree: an event of the child (or group) at `path`.
///
/// A child's own supervisor's events come with the child's path (`relay/listener`); a group's events come with the
/// group's path: ``SupervisorEvent/ready(attempt:)`` once all of its children have started,
/// ``SupervisorEvent/degraded(probeInterval:)`` when a root group that degrades escalated, and
/// ``SupervisorEvent/stopped(_:)`` last.
///
/// ```swift
/// for await event in group.events() {
///     print("\(event.path): \(event.event)")   // relay/listener: ready (attempt 1)
/// }
/// ```
public struct GroupEvent: Sendable, CustomStringConvertible {
    /// Where in the tree: the names from the root group down, joined by `/`.
    public let path: String
    /// What happened there.
    public let event: SupervisorEvent

    public init(path: String, event: SupervisorEvent) {
        self.path = path
        self.event = event
    }

    public var description: String { "\(path): \(event)" }
}
