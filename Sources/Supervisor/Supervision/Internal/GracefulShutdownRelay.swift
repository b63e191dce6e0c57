@_spi(TestKit) import ServiceLifecycle
import Synchronization

/// What a graceful shutdown stops: a supervisor.
protocol GracefullyStoppable: AnyObject, Sendable {
    /// A graceful shutdown was triggered: stop, as promptly as cancellation would.
    func shutDownGracefully()
}

/// Forwards graceful shutdowns to supervisors, with one waiting task per shutdown manager instead of one handler
/// per supervisor.
///
/// Only a `ServiceGroup` shuts services down gracefully, through a task-local manager that it sets for each
/// service's task (and that every task created under it inherits); without one, cancellation is the only way a
/// supervisor is stopped. A supervisor joins once, in `run()`: with no manager it runs its resource in its own task,
/// where cancellation reaches it; with one, a graceful shutdown must end the run without cancelling the caller's
/// task: through the resource's `endRun(_:)` where it has one, otherwise by cancelling the child task each start
/// then runs in.
///
/// Not `withGracefulShutdownHandler` in every supervisor: swift-service-lifecycle keeps handlers in an array and
/// removes each with a linear search and a shift, so 100,000 supervisors ending would take quadratic time, and that
/// function's frames, kept for the task's life by its allocator, would push every parked supervisor past its
/// task's first slab (1 KiB more each). Here a supervisor is a set entry, and one task per manager, which
/// inherits the manager, waits for its shutdown and ends when the last member leaves.
///
/// swift-service-lifecycle exposes the task-local only as SPI (for its test kit); if a release renames it, this
/// file stops compiling rather than anything changing silently. `ResourceSupervisorTests` checks both paths.
final class GracefulShutdownRelay: Sendable {
    static let shared = GracefulShutdownRelay()

    private struct Group {
        /// Held so that the manager's address (the key) is not reused while the group exists.
        let manager: GracefulShutdownManager
        /// The members by identity: 8 bytes a bucket rather than 24 for a dictionary of references (a set of
        /// 100,000 has 262,144 buckets). A member is in the set from `join` to `leave`, both called by its own
        /// `run()`, which holds it alive; `shutDown` reaches members under the lock, so none leaves meanwhile.
        var members: Set<ObjectIdentifier> = []
        var watcher: Task<Void, Never>?
    }

    private let groups = Mutex<[ObjectIdentifier: Group]>([:])

    /// Joins the graceful shutdown of the current task's manager; returns the manager to leave later, or `nil` when
    /// no graceful shutdown can reach this task. A member that joins after the shutdown is stopped at once.
    func join(_ member: any GracefullyStoppable) -> GracefulShutdownManager? {
        guard let manager = TaskLocals.gracefulShutdownManager else { return nil }
        let key = ObjectIdentifier(manager)
        let isFirst = groups.withLock { groups -> Bool in
            let isFirst = groups[key] == nil
            groups[key, default: Group(manager: manager)].members.insert(ObjectIdentifier(member))
            return isFirst
        }
        // A manager that is shutting down already (the manager says so itself): stop before starting.
        if Task.isShuttingDownGracefully { member.shutDownGracefully() }
        if isFirst {
            // Inherits the task-local manager, which is what `gracefulShutdown()` waits on.
            let watcher = Task { [self] in
                do {
                    try await gracefulShutdown()
                } catch {
                    return  // cancelled: the last member left
                }
                shutDown(key)
            }
            // The member that made the group is in it until it leaves, after this returns: the group is still here.
            groups.withLock { $0[key]?.watcher = watcher }
        }
        return manager
    }

    /// Leaves the group of `manager`; the last member to leave ends its waiting task.
    func leave(_ member: any GracefullyStoppable, of manager: GracefulShutdownManager) {
        let key = ObjectIdentifier(manager)
        let watcher = groups.withLock { groups -> Task<Void, Never>? in
            groups[key]?.members.remove(ObjectIdentifier(member))
            guard groups[key]?.members.isEmpty == true else { return nil }
            defer { groups[key] = nil }
            return groups[key]?.watcher
        }
        watcher?.cancel()
    }

    /// How many supervisors wait for `manager`'s shutdown now (for tests).
    func memberCount(of manager: GracefulShutdownManager) -> Int {
        groups.withLock { $0[ObjectIdentifier(manager)]?.members.count ?? 0 }
    }

    private func shutDown(_ key: ObjectIdentifier) {
        // Retained under the lock, where a member cannot leave (and be released); told outside it, since telling
        // one may run its resource's `endRun` (a close, which can wait), and every join and leave waits on this lock.
        let members = groups.withLock { groups in
            (groups[key]?.members ?? []).compactMap {
                unsafeBitCast($0, to: AnyObject.self) as? any GracefullyStoppable
            }
        }
        for member in members { member.shutDownGracefully() }
    }
}
