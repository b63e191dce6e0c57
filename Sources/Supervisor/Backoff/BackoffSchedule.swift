/// The running state of a ``Backoff``: which delay comes next, and what the curve remembers between them.
///
/// ```swift
/// var schedule = backoff.makeSchedule()
/// var generator = SplitMix64(seed: 7)
/// let first = schedule.next(using: &generator)   // delay 1, before the first retry (attempt 2)
/// let second = schedule.next(using: &generator)  // delay 2, before attempt 3
/// schedule.reset()                               // the resource was stable: start over at delay 1
/// ```
///
/// A schedule is a value: copying it copies its position. Its only randomness is the generator passed to
/// ``next(using:)``, so the same seed gives the same delays.
public struct BackoffSchedule: Sendable {
    /// The backoff this schedule follows.
    public let backoff: Backoff

    /// How many delays (retries) this schedule has handed out since it was made or reset; saturates at `Int.max`.
    public var retries: Int { attemptsMade }

    @available(*, unavailable, renamed: "retries", message: "it counts delays (retries), not calls")
    public var attempt: Int { retries }

    @usableFromInline
    var attemptsMade: Int

    // What the curve carries from one attempt to the next: the capped delay (exponential), the previous sleep
    // (decorrelated) or the previous cumulative value (soft-exponential). Unused by the other curves.
    @usableFromInline
    var memory: Double

    /// A schedule at its start: the next call to ``next(using:)`` gives delay 1.
    public init(_ backoff: Backoff) {
        self.backoff = backoff
        self.attemptsMade = 0
        self.memory = backoff.curve.initialMemory
    }

    /// A schedule positioned as if `retries` delays had already been handed out, so that the next call gives
    /// delay `retries + 1`. Use it to resume a persisted count; any value up to `Int.max` is valid.
    ///
    /// The randomized curves (decorrelated, soft-exponential) resume from the value they would have on average.
    public init(_ backoff: Backoff, resumingAfter retries: Int) {
        self.backoff = backoff
        self.attemptsMade = Swift.max(0, retries)
        self.memory = backoff.curve.memory(after: attemptsMade)
    }

    /// The delay before the next retry, or `nil` when the backoff's retry limit is reached or a custom curve says
    /// stop. Each call advances the schedule by one delay.
    @inlinable
    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration? {
        backoff.delay(advancing: &attemptsMade, memory: &memory, using: &generator)
    }

    /// The delay before the next attempt, drawn from the system's random number generator.
    public mutating func next() -> Duration? {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    /// Starts over at delay 1, as after a stable run.
    public mutating func reset() {
        attemptsMade = 0
        memory = backoff.curve.initialMemory
    }
}

extension Backoff {
    /// One step of a schedule whose position is kept elsewhere: the delay after attempt `attemptsMade`, which it
    /// advances (saturating at `Int.max`), with the curve's `memory`. `nil` past the attempt limit.
    @inlinable
    func delay<G: RandomNumberGenerator>(
        advancing attemptsMade: inout Int, memory: inout Double, using generator: inout G
    ) -> Duration? {
        // `Int.max` as the limit means "no limit": a schedule resumed at attempt Int.max goes on.
        guard attemptsMade < retryLimit || retryLimit == .max else { return nil }
        // Saturate: at Int.max the schedule stays on its last attempt instead of overflowing.
        if attemptsMade < .max { attemptsMade += 1 }
        guard let raw = curve.delay(attempt: attemptsMade, memory: &memory, using: &generator) else { return nil }
        let jittered = jitterKind.apply(to: raw, using: &generator)
        return .delay(seconds: Swift.min(Swift.max(jittered, lowerBound), upperBound))
    }
}

/// A schedule's position without its backoff, for the supervisor's state machine, which reads the backoff from
/// its policy: 16 bytes instead of a whole ``BackoffSchedule`` for each of the two schedules of every supervisor.
struct BackoffCursor {
    private var attemptsMade = 0
    private var memory: Double

    init(_ backoff: Backoff) {
        memory = backoff.curve.initialMemory
    }

    mutating func next<G: RandomNumberGenerator>(_ backoff: Backoff, using generator: inout G) -> Duration? {
        backoff.delay(advancing: &attemptsMade, memory: &memory, using: &generator)
    }

    mutating func reset(_ backoff: Backoff) {
        self = BackoffCursor(backoff)
    }
}
