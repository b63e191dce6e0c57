import Synchronization

/// A fixed number of slots for file system calls; a caller waits for a free one until a deadline, in order of
/// arrival. Taking and releasing a free slot is one lock, never a wait.
///
/// ```swift
/// let slots = CallSlots(count: 4)
/// guard await slots.acquire(until: .now + .seconds(1)) else { return }   // none freed up within 1 s
/// defer { slots.release() }
/// ```
final class CallSlots: Sendable {
    private struct State {
        var held = 0
        var waiters: [FirstAnswer<Bool>] = []
    }

    private let count: Int
    private let state = Mutex(State())

    init(count: Int) {
        self.count = count
    }

    /// Slots held now (past `count` after ``take()``).
    var held: Int {
        state.withLock { $0.held }
    }

    /// Takes a slot, waiting for one until `deadline` (and no longer once the task is cancelled); whether it got one.
    func acquire(until deadline: ContinuousClock.Instant) async -> Bool {
        let granted = FirstAnswer<Bool>()
        let free = state.withLock { state -> Bool in
            guard state.held < count else {
                state.waiters.append(granted)
                return false
            }
            state.held += 1
            return true
        }
        if free { return true }
        let timer = Task {
            try? await Task.sleep(until: deadline)
            // Refused: the waiter leaves the queue; a release that picked it already passes the slot on.
            if granted.give(false) { forget(granted) }
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await granted.value
        } onCancel: {
            if granted.give(false) { forget(granted) }
        }
    }

    /// Takes a slot even when none is free: for a call submitted already.
    func take() {
        state.withLock { $0.held += 1 }
    }

    /// Frees a slot: it passes to the oldest waiter still waiting, if any.
    func release() {
        // Bounded: each round removes one waiter.
        while true {
            let next = state.withLock { state -> FirstAnswer<Bool>? in
                // Past `count` (closes given up) or nobody waits: the slot is simply freed.
                guard state.held <= count, !state.waiters.isEmpty else {
                    state.held -= 1
                    return nil
                }
                return state.waiters.removeFirst()
            }
            // The slot stays held, now by the waiter; one that gave up already refuses it.
            guard let next, !next.give(true) else { return }
        }
    }

    private func forget(_ waiter: FirstAnswer<Bool>) {
        state.withLock { state in state.waiters.removeAll { $0 === waiter } }
    }
}
