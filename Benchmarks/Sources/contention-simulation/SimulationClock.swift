import Synchronization

/// The simulation's time as a `Clock`, so that a `RestartBudget` measures its refill in simulated milliseconds: the
/// model sets `now` to each event's time before it asks the budget. Nothing sleeps on it.
///
/// ```swift
/// let clock = SimulationClock()
/// let budget = try RestartBudget(capacity: 20, refillPerSecond: 50, clock: clock)
/// clock.set(milliseconds: 1_500)
/// let wait = budget.withdraw()
/// ```
final class SimulationClock: Clock, Sendable {
    typealias Duration = Swift.Duration

    /// An instant of the simulation: an offset from the run's start.
    struct Instant: InstantProtocol {
        var offset: Duration

        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let current = Mutex(Instant(offset: .zero))

    var now: Instant { current.withLock { $0 } }
    var minimumResolution: Duration { .zero }

    /// Moves the time to `milliseconds` from the run's start (rounded to the nanosecond).
    func set(milliseconds: Double) {
        let instant = Instant(offset: .nanoseconds(Int64((milliseconds * 1e6).rounded())))
        current.withLock { $0 = instant }
    }

    /// The model waits by scheduling events, never on the clock.
    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        preconditionFailure("the simulation never sleeps on its clock")
    }
}
