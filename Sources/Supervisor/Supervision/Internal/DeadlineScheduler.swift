import HeapModule
import Synchronization

/// What a `DeadlineScheduler` rings: a supervisor, whose alarm (see `Alarm`) ends the wait due at a deadline.
protocol DeadlineAlarm: AnyObject, Sendable {
    /// The deadline `instant` (the timeline's nanoseconds) has come: end the wait due then, if it still is.
    func deadlineReached(_ instant: Int64)
    /// Whether a wait is still due at `instant`; `false` once it ended early (a wake-up, a shutdown).
    func isWaiting(until instant: Int64) -> Bool
}

/// Rings alarms at their deadlines on one timeline, with a single sleeping task for all of them.
///
/// A sleeping task per parked supervisor costs a task and a platform timer each (about 3 KiB on Linux);
/// 100,000 supervisors waiting out a backoff share this one instead. Deadlines live in a heap of 32-byte entries;
/// the sleeper sleeps until the earliest, rings what is due, and exits when nothing is left. A deadline, or a latest
/// acceptable instant, earlier than the one it sleeps for replaces the sleeper. The entry of a wait that ended early
/// (a wake-up, a shutdown) stays until its deadline and then rings nothing; when such entries make up half of the
/// heap, it is rebuilt without them, so repeated wake-ups cannot grow it without bound.
///
/// Every entry's tolerance holds: the sleeper sleeps until the earliest deadline, with the tolerance that the
/// tightest "latest acceptable instant" (deadline plus tolerance) of all entries leaves, kept in a second heap of
/// instants. Entries hold their alarms weakly: a supervisor that stopped and was dropped is freed at once, not when
/// its last deadline passes. The sleeper is a detached task, with no supervisor's priority or task-locals. A clock
/// whose sleep fails (other than by the sleeper's replacement) gets every pending entry rung at once.
///
/// ```swift
/// let scheduler = DeadlineScheduler(clock: ContinuousClock(), origin: .now)
/// scheduler.schedule(supervisor, at: 5_000_000_000, tolerance: .milliseconds(500))  // rings in 5 to 5.5 s
/// ```
final class DeadlineScheduler<C: Clock>: Sendable where C.Duration == Duration {
    private struct Entry: Comparable {
        /// Nanoseconds from `origin`.
        var deadline: Int64
        /// The latest acceptable instant, in nanoseconds from `origin`: the deadline plus its tolerance.
        var latest: Int64
        /// Weak, so that a heap entry never keeps a supervisor (and its resource) alive; 16 bytes, like a strong one.
        weak var alarm: (any DeadlineAlarm)?

        // Only the deadline orders entries; which of two equal deadlines rings first does not matter.
        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.deadline < rhs.deadline }
        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.deadline == rhs.deadline }
    }

    /// What the sleeper sleeps for: the earliest deadline, and the earliest instant by which it must be awake.
    private struct Target {
        var deadline: Int64
        var latest: Int64
    }

    private struct Sleeper {
        var id: UInt64
        var target: Target
        var task: Task<Void, Never>
    }

    private struct State {
        var heap = Heap<Entry>()
        /// Every entry's latest acceptable instant. Cleaned lazily: an instant of an entry already rung stays until
        /// the earliest deadline passes it, and can only make a wake-up earlier, never later.
        var latests = Heap<Int64>()
        /// The heaps' size after their last rebuild: twice that many entries trigger the next one.
        var compactedCount = 0
        var sleepers: UInt64 = 0
        var sleeper: Sleeper?

        /// The sleep that serves every entry, after dropping the instants that no entry can still need; `nil` when
        /// there is no entry.
        mutating func target() -> Target? {
            guard let first = heap.min else {
                latests = Heap()
                return nil
            }
            // Every entry's latest instant is at or after its deadline, so one before the earliest deadline is stale.
            while let latest = latests.min, latest < first.deadline { latests.removeMin() }
            return Target(deadline: first.deadline, latest: max(first.deadline, latests.min ?? first.deadline))
        }

        /// Removes the entries due by `now`, and every entry when `now` is `nil`; returns the live alarms to ring.
        mutating func takeDue(by now: Int64?) -> [(alarm: any DeadlineAlarm, deadline: Int64)] {
            var due: [(alarm: any DeadlineAlarm, deadline: Int64)] = []
            while let first = heap.min {
                if let now, first.deadline > now { break }
                let entry = heap.removeMin()
                if let alarm = entry.alarm { due.append((alarm, entry.deadline)) }
            }
            return due
        }
    }

    /// Below this many entries the heap is never rebuilt: stale entries cost less than the scan.
    private static var minimumCompaction: Int { 1_024 }

    /// The size of one heap entry (for tests: it is what each parked supervisor costs the scheduler).
    static var entrySize: Int { MemoryLayout<Entry>.size }

    let clock: C
    /// The instant the timeline's offsets count from.
    let origin: C.Instant
    private let state = Mutex(State())

    init(clock: C, origin: C.Instant) {
        self.clock = clock
        self.origin = origin
    }

    /// Rings `alarm` at `deadline` nanoseconds from `origin` (or within `tolerance` after it; `nil` for none). Call
    /// it without holding the alarm's lock: a rebuild asks alarms whether they still wait. The scheduler does not
    /// keep `alarm` alive: one freed before its deadline is not rung.
    func schedule(_ alarm: any DeadlineAlarm, at deadline: Int64, tolerance: Duration?) {
        // A negative tolerance counts as none.
        let latest = max(deadline, tolerance.map { deadline.addingClamped($0.nanosecondsClamped) } ?? deadline)
        state.withLock { state in
            state.heap.insert(Entry(deadline: deadline, latest: latest, alarm: alarm))
            state.latests.insert(latest)
            let threshold = 2 * max(state.compactedCount, Self.minimumCompaction)
            if max(state.heap.count, state.latests.count) >= threshold {
                let live = state.heap.unordered.filter { $0.alarm?.isWaiting(until: $0.deadline) ?? false }
                state.heap = Heap(live)
                state.latests = Heap(live.map(\.latest))
                state.compactedCount = live.count
            }
            // A sleeper that wakes by this entry's deadline and latest instant serves it already.
            if let sleeper = state.sleeper, sleeper.target.deadline <= deadline, sleeper.target.latest <= latest {
                return
            }
            // No sleeper, or one that would wake too late: start one for the new target.
            guard let target = state.target() else { return }
            state.sleeper?.task.cancel()
            state.sleepers &+= 1
            let id = state.sleepers
            // Detached: the sleeper serves every supervisor, so it takes neither this caller's priority nor its
            // task-locals.
            let task = Task.detached { [self] in await self.sleep(as: id, for: target) }
            state.sleeper = Sleeper(id: id, target: target, task: task)
        }
    }

    /// How many entries the heap holds, stale ones included (for tests).
    var pendingCount: Int {
        state.withLock { $0.heap.count }
    }

    /// The sleeper's loop: sleep until the earliest deadline, ring what is due, repeat while it is the sleeper.
    private func sleep(as id: UInt64, for first: Target) async {
        var target = first
        while true {
            var now: Int64?
            do {
                let tolerance = target.latest - target.deadline
                try await clock.sleep(
                    until: origin.advanced(by: .exactNanoseconds(target.deadline)),
                    // No leeway is `nil`, what `TimerTolerance.exact` asks for.
                    tolerance: tolerance == 0 ? nil : .exactNanoseconds(tolerance)
                )
                now = origin.duration(to: clock.now).nanosecondsClamped
            } catch {
                // Cancelled: a sleeper for an earlier target replaced this one, which checks below too.
                if Task.isCancelled { return }
            }
            let (due, next) = state.withLock { state -> ([(alarm: any DeadlineAlarm, deadline: Int64)], Target?) in
                guard state.sleeper?.id == id else { return ([], nil) }
                // A clock that failed to sleep cannot tell when any deadline comes: ring them all now rather than
                // strand them (a supervisor rung early just starts its next attempt), and leave none behind.
                let due = state.takeDue(by: now)
                let next = state.target()
                if let next { state.sleeper?.target = next } else { state.sleeper = nil }
                return (due, next)
            }
            for (alarm, deadline) in due { alarm.deadlineReached(deadline) }
            guard let next else { return }
            target = next
        }
    }
}

extension Int64 {
    /// `self + other`, or `Int64.max` past it: a deadline plus a tolerance of centuries.
    fileprivate func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other < 0 ? .min : .max) : sum
    }
}
