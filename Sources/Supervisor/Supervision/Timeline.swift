/// A clock seen as offsets from one origin, so that the rest of the runner works with plain `Duration`s.
///
/// `any Clock<Duration>` cannot call `now.duration(to:)` or `sleep(until:)` with its own instants; this opens
/// the existential once, in the one generic initializer, and keeps the elapsed-time arithmetic there.
///
/// Only differences of offsets mean anything, so every supervisor on a system clock shares one timeline (made
/// with ``of(_:)``): a parked supervisor then carries a pointer rather than three closures of its own.
final class Timeline: Sendable {
    /// The time since the origin.
    let now: @Sendable () -> Duration
    /// Sleeps until the offset `deadline` from the origin, with an optional tolerance; throws when cancelled.
    let sleep: @Sendable (_ deadline: Duration, _ tolerance: Duration?) async throws -> Void
    /// Rings an alarm at the offset `deadline`, through the clock's shared `DeadlineScheduler`.
    let schedule: @Sendable (_ alarm: Alarm, _ generation: UInt64, _ deadline: Duration, _ tolerance: Duration?) -> Void

    /// The timeline of `clock`: the shared one of a system clock, or a new one for any other clock (a test clock
    /// is an object with a time of its own).
    static func of(_ clock: any Clock<Duration>) -> Timeline {
        // The system clocks by their concrete types, so that reading them is specialized code rather than
        // generic code working through witness tables on every read.
        if clock is ContinuousClock { return continuous }
        if clock is SuspendingClock { return suspending }
        return opening(clock)
    }

    private static let continuous = opening(ContinuousClock())
    private static let suspending = opening(SuspendingClock())

    private init(
        now: @escaping @Sendable () -> Duration,
        sleep: @escaping @Sendable (Duration, Duration?) async throws -> Void,
        schedule: @escaping @Sendable (Alarm, UInt64, Duration, Duration?) -> Void
    ) {
        self.now = now
        self.sleep = sleep
        self.schedule = schedule
    }

    private static func opening<C: Clock>(_ clock: C) -> Timeline where C.Duration == Duration {
        let origin = clock.now
        let scheduler = Self.scheduler(for: clock)
        return Timeline(
            now: { origin.duration(to: clock.now) },
            sleep: { deadline, tolerance in
                try await clock.sleep(until: origin.advanced(by: deadline), tolerance: tolerance)
            },
            schedule: { alarm, generation, deadline, tolerance in
                scheduler.schedule(
                    alarm, generation: generation, at: origin.advanced(by: deadline), tolerance: tolerance)
            }
        )
    }

    /// The process-wide scheduler for the system clocks, whose instances are interchangeable; a scheduler of its
    /// own for any other clock (a test clock is an object with its own time).
    private static func scheduler<C: Clock>(for clock: C) -> DeadlineScheduler<C> where C.Duration == Duration {
        if let shared = SharedSchedulers.continuous as? DeadlineScheduler<C> { return shared }
        if let shared = SharedSchedulers.suspending as? DeadlineScheduler<C> { return shared }
        return DeadlineScheduler(clock: clock)
    }
}
