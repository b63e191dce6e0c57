import HeapModule
import Synchronization

/// Rings alarms at their deadlines on one clock, with a single sleeping task for all of them.
///
/// A sleeping task per parked supervisor costs a task and a platform timer each (about 3 KiB on Linux);
/// 100,000 supervisors waiting out a backoff share this one instead. Deadlines live in a heap; the sleeper sleeps
/// until the earliest, rings what is due, and exits when nothing is left. A deadline earlier than the one it
/// sleeps for replaces the sleeper. Entries whose wait ended early (a wake-up, a shutdown) stay in the heap until
/// their deadline and then ring nothing: the alarm's generation has moved on.
final class DeadlineScheduler<C: Clock>: Sendable where C.Duration == Duration {
    private struct Entry: Comparable {
        var deadline: C.Instant
        var sequence: UInt64
        var tolerance: Duration?
        var alarm: Alarm
        var generation: UInt64

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            (lhs.deadline, lhs.sequence) < (rhs.deadline, rhs.sequence)
        }

        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.deadline == rhs.deadline && lhs.sequence == rhs.sequence
        }
    }

    private struct Sleeper {
        var id: UInt64
        var deadline: C.Instant
        var task: Task<Void, Never>
    }

    private struct State {
        var heap = Heap<Entry>()
        var sequence: UInt64 = 0
        var sleeper: Sleeper?
    }

    let clock: C
    private let state = Mutex(State())

    init(clock: C) {
        self.clock = clock
    }

    /// Rings `alarm` with `generation` at `deadline` (or within `tolerance` after it).
    func schedule(_ alarm: Alarm, generation: UInt64, at deadline: C.Instant, tolerance: Duration?) {
        state.withLock { state in
            state.sequence &+= 1
            state.heap.insert(
                Entry(
                    deadline: deadline,
                    sequence: state.sequence,
                    tolerance: tolerance,
                    alarm: alarm,
                    generation: generation
                )
            )
            if let sleeper = state.sleeper, sleeper.deadline <= deadline { return }
            // No sleeper, or one that would wake too late: start one for this deadline.
            state.sleeper?.task.cancel()
            let id = state.sequence
            state.sleeper = Sleeper(
                id: id,
                deadline: deadline,
                task: Task { [self] in await self.sleep(as: id, until: deadline, tolerance: tolerance) }
            )
        }
    }

    /// The sleeper's loop: sleep until the earliest deadline, ring what is due, repeat while it is the sleeper.
    private func sleep(as id: UInt64, until firstDeadline: C.Instant, tolerance firstTolerance: Duration?) async {
        var deadline = firstDeadline
        var tolerance = firstTolerance
        while true {
            do {
                try await clock.sleep(until: deadline, tolerance: tolerance)
            } catch {
                return  // replaced by a sleeper for an earlier deadline
            }
            let now = clock.now
            let (due, next) = state.withLock { state -> ([Entry], Entry?) in
                guard state.sleeper?.id == id else { return ([], nil) }
                var due: [Entry] = []
                while let first = state.heap.min, first.deadline <= now {
                    due.append(state.heap.removeMin())
                }
                guard let next = state.heap.min else {
                    state.sleeper = nil
                    return (due, nil)
                }
                state.sleeper?.deadline = next.deadline
                return (due, next)
            }
            for entry in due { entry.alarm.ring(.deadline(generation: entry.generation)) }
            guard let next else { return }
            deadline = next.deadline
            tolerance = next.tolerance
        }
    }
}

/// The schedulers of the stateless system clocks, shared by every supervisor in the process.
enum SharedSchedulers {
    static let continuous = DeadlineScheduler(clock: ContinuousClock())
    static let suspending = DeadlineScheduler(clock: SuspendingClock())
}
