/// Where a supervisor's task waits between events: one continuation, rung by whatever comes first of what may end
/// that wait — a backoff's deadline, a ``ResourceSupervisor/wake(spread:)``, the end of the running resource or of its
/// stop, a stop timeout, a shutdown, or cancellation.
///
/// A plain value kept under the supervisor's lock, reused for every wait: waiting costs no task and no timer of its
/// own (deadlines go through the shared `DeadlineScheduler`), which is what lets 100,000 supervisors park in a
/// backoff cheaply. The lock's owner resumes the continuation that `ring(_:)` hands back, after unlocking.
///
/// A wait is identified by its deadline, so a deadline scheduled for an earlier wait never ends a later one: the
/// later wait's deadline is later, or, if it is the very same instant, ringing it then is exactly right.
struct Alarm {
    /// What the supervisor waits for; it decides who may end the wait.
    enum Wait: UInt8, Sendable {
        /// A backoff: its deadline, a wake-up or a shutdown ends it.
        case backoff
        /// The resource serving in a child task: its end or a shutdown ends it.
        case serving
        /// The resource's `stop(_:)`: its end or the stop timeout's deadline ends it; a shutdown does not (the
        /// stop is the shutdown's own work).
        case stopping
        /// After a wake-up cut a backoff short, the wait until the instant drawn within its spread (or the rest of
        /// the minimum restart delay): its deadline or a shutdown ends it, another wake-up does not.
        case floor
    }

    /// Who rings.
    enum Ringer: Sendable {
        /// The deadline of the wait due at this instant (the timeline's nanoseconds).
        case deadline(Int64)
        /// `wake(spread:)`: rings only a backoff.
        case wake
        /// Shutdown or cancellation: rings a backoff or a serving wait.
        case shutdown
        /// The served resource's `run(_:)` returned: rings a serving wait.
        case runEnded
        /// The `stop(_:)` whose wait is due at this deadline returned: rings that stopping wait only, so a stop that
        /// finishes after its timeout cannot end a later wait.
        case stopEnded(Int64)
    }

    /// The armed wait's deadline in the timeline's nanoseconds; `Alarm.noDeadline` for a wait without one.
    private(set) var deadline = Alarm.noDeadline
    private var parked: UnsafeContinuation<Void, Never>?
    private var armed = false
    private var wait = Wait.backoff
    private var rung = false
    /// Whether the last wait was ended by its deadline (for a stop: timed out).
    private(set) var rungByDeadline = false
    /// The spread of the wake-up that ended the last wait, in microseconds (in the padding after the flags).
    private(set) var wakeSpreadMicroseconds: UInt32 = 0

    /// The deadline of a wait that has none (serving a resource); no scheduled deadline is ever this early.
    static let noDeadline = Int64.min

    /// Prepares a wait; a ring between `arm` and `park` is not lost.
    mutating func arm(_ wait: Wait, deadline: Int64 = Alarm.noDeadline) {
        armed = true
        rung = false
        rungByDeadline = false
        wakeSpreadMicroseconds = 0
        self.wait = wait
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
        guard armed, !rung, mayRing(ringer) else { return nil }
        rung = true
        if case .deadline = ringer { rungByDeadline = true }
        defer { parked = nil }
        return parked
    }

    /// Ends the armed wait for a wake-up with a spread of `spreadMicroseconds`, if a wake-up may end it, and returns
    /// the continuation to resume (outside the lock). The spread is kept for whoever handles the wake-up.
    mutating func ringWake(spreadMicroseconds: UInt32) -> UnsafeContinuation<Void, Never>? {
        guard armed, !rung, mayRing(.wake) else { return nil }
        wakeSpreadMicroseconds = spreadMicroseconds
        return ring(.wake)
    }

    private func mayRing(_ ringer: Ringer) -> Bool {
        switch (ringer, wait) {
        case (.deadline(let instant), .backoff), (.deadline(let instant), .stopping), (.deadline(let instant), .floor):
            instant == deadline && deadline != Alarm.noDeadline
        case (.wake, .backoff), (.shutdown, .backoff), (.shutdown, .serving), (.runEnded, .serving),
            (.shutdown, .floor):
            true
        case (.stopEnded(let instant), .stopping):
            instant == deadline
        default:
            false
        }
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
