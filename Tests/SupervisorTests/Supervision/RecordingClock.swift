import Clocks
import Synchronization

/// A `TestClock` that records every sleep asked of it, as the sleeping task saw it, and can fail sleeps or wake as
/// late as their tolerance allows.
///
/// ```swift
/// let clock = RecordingClock(wakesLate: true)
/// let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
/// scheduler.schedule(alarm, at: 10_000_000_000, tolerance: .seconds(1))
/// await clock.advance(by: .seconds(11))  // the sleep asked for 10 s within 1 s: it ends at 11 s
/// ```
final class RecordingClock: Clock {
    typealias Duration = Swift.Duration
    typealias Instant = TestClock<Swift.Duration>.Instant

    /// One call of `sleep(until:tolerance:)`.
    struct Sleep: Equatable, Sendable {
        /// The deadline, from the clock's start.
        var deadline: Swift.Duration
        var tolerance: Swift.Duration?
        /// `Task.currentPriority` in the sleeping task.
        var priority: TaskPriority
        /// `RecordingClock.label` in the sleeping task.
        var label: String?
    }

    /// What a failing sleep throws: neither a cancellation nor anything a clock usually throws.
    struct Failure: Error {}

    /// A task-local for callers to bind, to see whether the sleeping task inherited it.
    @TaskLocal static var label: String?

    private struct State {
        var sleeps: [Sleep] = []
        var failing = false
    }

    private let inner = TestClock<Swift.Duration>()
    private let start: Instant
    /// Whether sleeps end at their deadline plus their whole tolerance, the latest a clock may wake them.
    private let wakesLate: Bool
    private let state = Mutex(State())

    init(wakesLate: Bool = false) {
        self.start = inner.now
        self.wakesLate = wakesLate
    }

    var now: Instant { inner.now }
    var minimumResolution: Swift.Duration { inner.minimumResolution }

    /// The sleeps asked for so far, in order.
    var sleeps: [Sleep] { state.withLock { $0.sleeps } }

    /// Whether sleeps throw `Failure` from now on.
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }

    /// Moves time forward by `duration`, ending the sleeps due by then.
    func advance(by duration: Swift.Duration) async { await inner.advance(by: duration) }

    func sleep(until deadline: Instant, tolerance: Swift.Duration?) async throws {
        let sleep = Sleep(
            deadline: start.duration(to: deadline),
            tolerance: tolerance,
            priority: Task.currentPriority,
            label: Self.label
        )
        let failing = state.withLock { state in
            state.sleeps.append(sleep)
            return state.failing
        }
        if failing { throw Failure() }
        try await inner.sleep(until: wakesLate ? deadline.advanced(by: tolerance ?? .zero) : deadline)
    }
}
