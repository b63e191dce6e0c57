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
/// the sleeper sleeps until the earliest, rings what is due, and exits when nothing is left. A deadline earlier than
/// the one it sleeps for replaces the sleeper. The entry of a wait that ended early (a wake-up, a shutdown) stays
/// until its deadline and then rings nothing; when such entries make up half of the heap, it is rebuilt without
/// them, so repeated wake-ups cannot grow it without bound.
final class DeadlineScheduler<C: Clock>: Sendable where C.Duration == Duration {
    private struct Entry: Comparable {
        /// Nanoseconds from `origin`.
        var deadline: Int64
        /// Nanoseconds; negative for none.
        var tolerance: Int64
        var alarm: any DeadlineAlarm

        // Only the deadline orders entries; which of two equal deadlines rings first does not matter.
        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.deadline < rhs.deadline }
        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.deadline == rhs.deadline }
    }

    private struct Sleeper {
        var id: UInt64
        var deadline: Int64
        var task: Task<Void, Never>
    }

    private struct State {
        var heap = Heap<Entry>()
        /// The heap's size after its last rebuild: twice that many entries trigger the next one.
        var compactedCount = 0
        var sleepers: UInt64 = 0
        var sleeper: Sleeper?
    }

    /// Below this many entries the heap is never rebuilt: stale entries cost less than the scan.
    private static var minimumCompaction: Int { 1_024 }

    let clock: C
    /// The instant the timeline's offsets count from.
    let origin: C.Instant
    private let state = Mutex(State())

    init(clock: C, origin: C.Instant) {
        self.clock = clock
        self.origin = origin
    }

    /// Rings `alarm` at `deadline` nanoseconds from `origin` (or within `tolerance` after it). Call it without
    /// holding the alarm's lock: a rebuild asks alarms whether they still wait.
    func schedule(_ alarm: any DeadlineAlarm, at deadline: Int64, tolerance: Duration?) {
        let entry = Entry(deadline: deadline, tolerance: tolerance.map { $0.nanosecondsClamped } ?? -1, alarm: alarm)
        state.withLock { state in
            state.heap.insert(entry)
            if state.heap.count >= 2 * max(state.compactedCount, Self.minimumCompaction) {
                state.heap = Heap(state.heap.unordered.filter { $0.alarm.isWaiting(until: $0.deadline) })
                state.compactedCount = state.heap.count
            }
            if let sleeper = state.sleeper, sleeper.deadline <= deadline { return }
            // No sleeper, or one that would wake too late: start one for this deadline.
            state.sleeper?.task.cancel()
            state.sleepers &+= 1
            let id = state.sleepers
            state.sleeper = Sleeper(
                id: id,
                deadline: deadline,
                task: Task { [self] in await self.sleep(as: id, until: entry) }
            )
        }
    }

    /// How many entries the heap holds, stale ones included (for tests).
    var pendingCount: Int {
        state.withLock { $0.heap.count }
    }

    /// The sleeper's loop: sleep until the earliest deadline, ring what is due, repeat while it is the sleeper.
    private func sleep(as id: UInt64, until first: Entry) async {
        var next = first
        while true {
            do {
                let tolerance = next.tolerance < 0 ? nil : Duration.exactNanoseconds(next.tolerance)
                let deadline = origin.advanced(by: .exactNanoseconds(next.deadline))
                try await clock.sleep(until: deadline, tolerance: tolerance)
            } catch {
                return  // replaced by a sleeper for an earlier deadline
            }
            let now = origin.duration(to: clock.now).nanosecondsClamped
            let (due, following) = state.withLock { state -> ([Entry], Entry?) in
                guard state.sleeper?.id == id else { return ([], nil) }
                var due: [Entry] = []
                while let first = state.heap.min, first.deadline <= now {
                    due.append(state.heap.removeMin())
                }
                guard let following = state.heap.min else {
                    state.sleeper = nil
                    return (due, nil)
                }
                state.sleeper?.deadline = following.deadline
                return (due, following)
            }
            for entry in due { entry.alarm.deadlineReached(entry.deadline) }
            guard let following else { return }
            next = following
        }
    }
}
