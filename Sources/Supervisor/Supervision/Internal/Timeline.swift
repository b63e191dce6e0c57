/// A clock seen as offsets from one origin, so that the rest of the runner works with plain `Duration`s.
///
/// `any Clock<Duration>` cannot call `now.duration(to:)` or `sleep(until:)` with its own instants; this opens
/// the existential once, in the one generic initializer, and keeps the elapsed-time arithmetic there.
///
/// Only differences of offsets mean anything, so every supervisor on a system clock shares one timeline (made
/// with ``of(_:)``): a parked supervisor then carries a pointer rather than three closures of its own.
final class Timeline: Sendable {
    // How the time is read: the continuous clock directly (what nearly every supervisor uses, read on every
    // failure), any other clock through `read`. Two fields rather than an enum: `ContinuousClock.Instant` is a
    // resilient type, and switching over an enum that carries one costs a runtime call on every read.
    /// The origin on the continuous clock; unused when `read` is set.
    private let continuousOrigin: ContinuousClock.Instant
    /// Reads any other clock.
    private let read: (@Sendable () -> Duration)?
    /// Sleeps until the offset `deadline` from the origin, with an optional tolerance; throws when cancelled.
    let sleep: @Sendable (_ deadline: Duration, _ tolerance: Duration?) async throws -> Void
    /// Rings an alarm at the offset `deadline` (in nanoseconds), through the timeline's `DeadlineScheduler`.
    let schedule: @Sendable (_ alarm: any DeadlineAlarm, _ deadline: Int64, _ tolerance: Duration?) -> Void

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
        continuousOrigin: ContinuousClock.Instant,
        read: (@Sendable () -> Duration)?,
        sleep: @escaping @Sendable (Duration, Duration?) async throws -> Void,
        schedule: @escaping @Sendable (any DeadlineAlarm, Int64, Duration?) -> Void
    ) {
        self.continuousOrigin = continuousOrigin
        self.read = read
        self.sleep = sleep
        self.schedule = schedule
    }

    private static func opening<C: Clock>(_ clock: C) -> Timeline where C.Duration == Duration {
        let origin = clock.now
        // One scheduler per timeline: the system clocks' timelines are process-wide, and so are their schedulers.
        let scheduler = DeadlineScheduler(clock: clock, origin: origin)
        let continuousOrigin = origin as? ContinuousClock.Instant
        let read: (@Sendable () -> Duration)? =
            if continuousOrigin == nil { { origin.duration(to: clock.now) } } else { nil }
        return Timeline(
            continuousOrigin: continuousOrigin ?? ContinuousClock.Instant.now,
            read: read,
            sleep: { deadline, tolerance in
                try await clock.sleep(until: origin.advanced(by: deadline), tolerance: tolerance)
            },
            schedule: { alarm, deadline, tolerance in
                scheduler.schedule(alarm, at: deadline, tolerance: tolerance)
            }
        )
    }

    /// The time since the origin.
    func now() -> Duration {
        if let read { return read() }
        return continuousOrigin.duration(to: .now)
    }
}
