/// Where a supervisor's task waits between events: one continuation, rung by whatever comes first — its backoff
/// deadline, a ``ResourceSupervisor/wake()``, the end of the running resource, a shutdown, or cancellation.
///
/// A plain value kept under the supervisor's lock, reused for every wait: waiting costs no task and no timer of its
/// own (deadlines go through the shared `DeadlineScheduler`), which is what lets 100,000 supervisors park in a
/// backoff cheaply. The lock's owner resumes the continuation that `ring(_:)` hands back, after unlocking.
///
/// A wait is identified by its deadline, so a deadline scheduled for an earlier wait never ends a later one: the
/// later wait's deadline is later, or, if it is the very same instant, ringing it then is exactly right.
struct Alarm {
    /// Who rings.
    enum Ringer: Sendable {
        /// The deadline of the wait due at this instant (the timeline's nanoseconds).
        case deadline(Int64)
        /// `wake()`: rings only a wait armed as wakeable (a backoff).
        case wake
        /// Shutdown, cancellation, the end of the running resource: rings any armed wait.
        case always
    }

    /// The armed wait's deadline in the timeline's nanoseconds; `Alarm.noDeadline` for a wait without one.
    private(set) var deadline = Alarm.noDeadline
    private var parked: UnsafeContinuation<Void, Never>?
    private var armed = false
    private var wakeable = false
    private var rung = false

    /// The deadline of a wait that has none (serving a resource); no scheduled deadline is ever this early.
    static let noDeadline = Int64.min

    /// Prepares a wait; a ring between `arm` and `park` is not lost.
    mutating func arm(wakeable: Bool, deadline: Int64 = Alarm.noDeadline) {
        armed = true
        rung = false
        self.wakeable = wakeable
        self.deadline = deadline
    }

    /// Keeps `continuation` until the wait is rung; returns `false` when it must be resumed at once instead (the
    /// wait was rung already, or is not armed).
    mutating func park(_ continuation: UnsafeContinuation<Void, Never>) -> Bool {
        if rung || !armed { return false }
        parked = continuation
        return true
    }

    /// Ends the armed wait, if `ringer` may end it, and returns the continuation to resume (outside the lock).
    mutating func ring(_ ringer: Ringer) -> UnsafeContinuation<Void, Never>? {
        guard armed, !rung else { return nil }
        switch ringer {
        case .deadline(let instant) where instant != deadline || deadline == Alarm.noDeadline: return nil
        case .wake where !wakeable: return nil
        default: break
        }
        rung = true
        defer { parked = nil }
        return parked
    }

    /// Whether a wait is still due at `instant`: the scheduler drops the entries of waits that ended early.
    func isPending(at instant: Int64) -> Bool {
        armed && !rung && deadline == instant && instant != Alarm.noDeadline
    }

    /// Ends the current wait's life: later rings are ignored until the next `arm`.
    mutating func disarm() {
        armed = false
        parked = nil
        deadline = Alarm.noDeadline
    }
}
