import Synchronization

/// The group's mailbox: reports from its children and nudges from callers, taken in order by the group's task.
///
/// Not an `AsyncStream`: its iterator ends when the waiting task is cancelled, and a cancelled group still has to
/// take its children's reports while it stops them one by one.
final class GroupInbox: Sendable {
    private struct State: ~Copyable {
        var inputs: [GroupInput] = []
        var next = 0
        var waiter: UnsafeContinuation<GroupInput, Never>?

        mutating func take() -> GroupInput? {
            guard next < inputs.count else { return nil }
            let input = inputs[next]
            next += 1
            // Reclaim the taken prefix once it is all taken, or once it is most of the array.
            if next == inputs.count {
                inputs.removeAll(keepingCapacity: true)
                next = 0
            } else if next > 64, next * 2 > inputs.count {
                inputs.removeFirst(next)
                next = 0
            }
            return input
        }
    }

    private let state = Mutex(State())

    /// Adds `input`; wakes the group's task if it waits.
    func yield(_ input: GroupInput) {
        let waiter = state.withLock { state -> UnsafeContinuation<GroupInput, Never>? in
            if let waiter = state.waiter.take() { return waiter }
            state.inputs.append(input)
            return nil
        }
        waiter?.resume(returning: input)
    }

    /// The oldest input, waiting for one if there is none; cancellation does not end the wait. One task takes.
    func next() async -> GroupInput {
        if let input = state.withLock({ $0.take() }) { return input }
        return await withUnsafeContinuation { continuation in
            let input = state.withLock { state -> GroupInput? in
                if let input = state.take() { return input }
                state.waiter = continuation
                return nil
            }
            if let input { continuation.resume(returning: input) }
        }
    }
}
