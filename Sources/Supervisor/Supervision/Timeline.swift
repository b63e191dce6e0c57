/// A clock seen as offsets from one origin, so that the rest of the runner works with plain `Duration`s.
///
/// `any Clock<Duration>` cannot call `now.duration(to:)` or `sleep(until:)` with its own instants; this opens
/// the existential once, in the one generic initializer, and keeps the elapsed-time arithmetic there.
struct Timeline: Sendable {
    /// The time since the origin.
    let now: @Sendable () -> Duration
    /// Sleeps until the offset `deadline` from the origin, with an optional tolerance; throws when cancelled.
    let sleep: @Sendable (_ deadline: Duration, _ tolerance: Duration?) async throws -> Void

    init(_ clock: any Clock<Duration>) {
        self = Timeline.opening(clock)
    }

    private init(
        now: @escaping @Sendable () -> Duration,
        sleep: @escaping @Sendable (Duration, Duration?) async throws -> Void
    ) {
        self.now = now
        self.sleep = sleep
    }

    private static func opening<C: Clock>(_ clock: C) -> Timeline where C.Duration == Duration {
        let origin = clock.now
        return Timeline(
            now: { origin.duration(to: clock.now) },
            sleep: { deadline, tolerance in
                try await clock.sleep(until: origin.advanced(by: deadline), tolerance: tolerance)
            }
        )
    }
}
