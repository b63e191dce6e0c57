public import Clocks
public import Supervisor

extension EventRecorder {
    /// The next event for which `predicate` holds, advancing `clock` by zero while it waits.
    ///
    /// A supervisor's backoff timer may register with the `TestClock` only after the test advanced the clock
    /// exactly to its deadline (the timer runs on another task, which a loaded machine may schedule late), and
    /// `TestClock` fires a sleep whose deadline equals `now` only during an `advance`. Advancing by zero fires
    /// what is due and nothing else, so virtual time stays exactly where the test put it:
    ///
    /// ```swift
    /// await clock.advance(by: .seconds(1))
    /// let event = await recorder.next(advancing: clock) { if case .ready = $0 { true } else { false } }
    /// ```
    ///
    /// Returns `nil` when the supervisor stopped first.
    public func next(
        advancing clock: TestClock<Duration>,
        where predicate: @escaping @Sendable (SupervisorEvent) -> Bool = { _ in true }
    ) async -> SupervisorEvent? {
        enum Outcome: Sendable {
            case event(SupervisorEvent?)
            case nudgerDone
        }
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask { .event(await self.next(where: predicate)) }
            group.addTask {
                // Bounded: a million nudges is minutes of waiting; a test that gets here has failed anyway.
                for _ in 0..<1_000_000 where !Task.isCancelled {
                    await clock.advance(by: .zero)
                    await Task.yield()
                }
                return .nudgerDone
            }
            defer { group.cancelAll() }
            while let outcome = await group.next() {
                if case .event(let event) = outcome { return event }
            }
            return nil
        }
    }
}
