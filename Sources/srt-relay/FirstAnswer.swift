import Synchronization

/// A value that several racers may give, of which the waiter takes the first: a call's result, a timer's, a
/// cancellation's. Later answers are refused (``give(_:)`` returns `false`), so a racer that lost can clean up what
/// it holds (a descriptor opened too late, say).
///
/// ```swift
/// let answer = FirstAnswer<Int?>()
/// Task { _ = answer.give(await slowCall()) }
/// Task { try? await Task.sleep(for: .seconds(1)); _ = answer.give(nil) }
/// let result = await answer.value   // the call's result, or nil after 1 s
/// ```
final class FirstAnswer<Value: Sendable>: Sendable {
    private struct State {
        var answer: Value?
        var answered = false
        var waiter: CheckedContinuation<Value, Never>?
    }

    private let state = Mutex(State())

    init() {}

    /// Gives `value` if nobody answered yet; whether it was taken.
    @discardableResult
    func give(_ value: Value) -> Bool {
        let waiter = state.withLock { state -> CheckedContinuation<Value, Never>?? in
            guard !state.answered else { return .none }
            state.answered = true
            // Nobody waits yet: kept for the waiter.
            guard let waiter = state.waiter else {
                state.answer = value
                return .some(nil)
            }
            state.waiter = nil
            return .some(waiter)
        }
        guard let waiter else { return false }
        waiter?.resume(returning: value)
        return true
    }

    /// Whether an answer was given.
    var isAnswered: Bool {
        state.withLock { $0.answered }
    }

    /// The first answer, once given. Wait for it from one task only.
    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Value? in
                    guard state.answered else {
                        state.waiter = continuation
                        return nil
                    }
                    return state.answer
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
