/// A clock seen as offsets from one origin, so that the rest of the runner works with plain `Duration`s.
///
/// `any Clock<Duration>` cannot call `now.duration(to:)` or `sleep(until:)` with its own instants; this opens
/// the existential once, in the one generic initializer, and keeps the elapsed-time arithmetic there.
struct Timeline: Sendable {
    /// The time since the origin.
    let now: @Sendable () -> Duration
    /// Sleeps until the offset `deadline` from the origin, with an optional tolerance; throws when cancelled.
    let sleep: @Sendable (_ deadline: Duration, _ tolerance: Duration?) async throws -> Void
    /// Rings an alarm at the offset `deadline`, through the clock's shared `DeadlineScheduler`.
    let schedule: @Sendable (_ alarm: Alarm, _ generation: UInt64, _ deadline: Duration, _ tolerance: Duration?) -> Void

    init(_ clock: any Clock<Duration>) {
        // The system clocks by their concrete types, so that reading them is specialized code rather than
        // generic code working through witness tables on every read.
        if let continuous = clock as? ContinuousClock {
            self = Timeline.opening(continuous)
        } else if let suspending = clock as? SuspendingClock {
            self = Timeline.opening(suspending)
        } else {
            self = Timeline.opening(clock)
        }
    }

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
