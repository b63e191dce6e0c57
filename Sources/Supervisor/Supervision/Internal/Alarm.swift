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
        /// stop is the shutdown's own work). Without a timeout it is armed only to remember wake-ups.
        case stopping
        /// After a wake-up cut a backoff short, the wait until the instant drawn within its spread (or the rest of
        /// the minimum restart delay): its deadline or a shutdown ends it, another wake-up does not.
        case floor
        /// The resource's `start()` in progress: never parked on. A wake-up now is remembered, like one during a
        /// stop: the start may have begun before the change it reports, so the backoff after a failure ends at once.
        case starting
    }

    /// The flags of the armed wait, in one byte (the alarm is part of every supervisor: 24 bytes).
    private struct Flags: OptionSet {
        let rawValue: UInt8
        /// A wait is prepared (between `arm` and `disarm`).
        static let armed = Flags(rawValue: 1 << 0)
        /// The armed wait was rung.
        static let rung = Flags(rawValue: 1 << 1)
        /// The armed wait was rung by its deadline.
        static let rungByDeadline = Flags(rawValue: 1 << 2)
        /// A wake-up came during a start or a stop; the next backoff ends at once (`wakeSpreadMicroseconds` holds
        /// its spread).
        static let pendingWake = Flags(rawValue: 1 << 3)
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
    private var flags = Flags()
    private var wait = Wait.backoff
    /// The spread of the wake-up that ended the last wait, or of the one remembered, in microseconds.
    private(set) var wakeSpreadMicroseconds: UInt32 = 0

    /// Whether the last wait was ended by its deadline (for a stop: timed out).
    var rungByDeadline: Bool { flags.contains(.rungByDeadline) }

    /// Whether a wake-up during a start or a stop waits for the next backoff.
    var hasPendingWake: Bool { flags.contains(.pendingWake) }

    /// The deadline of a wait that has none (serving a resource); no scheduled deadline is ever this early.
    static let noDeadline = Int64.min

    /// Prepares a wait; a ring between `arm` and `park` is not lost. A backoff armed with a wake-up remembered is
    /// rung by it at once; a start or a serving run forgets it (they begin after the change it reports).
    mutating func arm(_ wait: Wait, deadline: Int64 = Alarm.noDeadline) {
        flags.insert(.armed)
        flags.remove([.rung, .rungByDeadline])
        self.wait = wait
        self.deadline = deadline
        switch wait {
        case .backoff where flags.contains(.pendingWake):
            flags.remove(.pendingWake)
            flags.insert(.rung)
        case .starting, .serving:
            flags.remove(.pendingWake)
            wakeSpreadMicroseconds = 0
        case .backoff, .floor:
            wakeSpreadMicroseconds = 0
        case .stopping:
            // A wake-up remembered during the start keeps its spread for the backoff after this stop.
            if !flags.contains(.pendingWake) { wakeSpreadMicroseconds = 0 }
        }
    }

    /// Keeps `continuation` until the wait is rung; returns `false` when it must be resumed at once instead (the
    /// wait was rung already, or is not armed).
    mutating func park(_ continuation: UnsafeContinuation<Void, Never>) -> Bool {
        if flags.contains(.rung) || !flags.contains(.armed) { return false }
        parked = continuation
        return true
    }

    /// Ends the armed wait, if `ringer` may end it, and returns the continuation to resume (outside the lock).
    mutating func ring(_ ringer: Ringer) -> UnsafeContinuation<Void, Never>? {
        guard flags.contains(.armed), !flags.contains(.rung), mayRing(ringer) else { return nil }
        flags.insert(.rung)
        if case .deadline = ringer { flags.insert(.rungByDeadline) }
        defer { parked = nil }
        return parked
    }

    /// Ends the armed wait for a wake-up with a spread of `spreadMicroseconds`, if a wake-up may end it, and returns
    /// the continuation to resume (outside the lock). The spread is kept for whoever handles the wake-up.
    /// During a start or a stop the wake-up is remembered instead, for the backoff that may follow.
    /// A start or a stop stays armed after it ended, until the backoff after it is armed: a wake-up while its failure
    /// is published is remembered too.
    mutating func ringWake(spreadMicroseconds: UInt32) -> UnsafeContinuation<Void, Never>? {
        guard flags.contains(.armed) else { return nil }
        if wait == .starting || wait == .stopping {
            flags.insert(.pendingWake)
            wakeSpreadMicroseconds = spreadMicroseconds
            return nil
        }
        guard !flags.contains(.rung), mayRing(.wake) else { return nil }
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
        flags.contains(.armed) && !flags.contains(.rung) && deadline == instant && instant != Alarm.noDeadline
    }

    /// Drops a remembered wake-up (the start after it succeeded).
    mutating func forgetWake() {
        flags.remove(.pendingWake)
    }

    /// Ends the current wait's life: later rings are ignored until the next `arm`.
    mutating func disarm() {
        flags.remove(.armed)
        parked = nil
        deadline = Alarm.noDeadline
    }
}
