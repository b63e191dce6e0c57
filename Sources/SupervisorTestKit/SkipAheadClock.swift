import Synchronization

/// A virtual clock whose sleeps return at once, moving its `now` to the deadline.
///
/// Like swift-clocks' `ImmediateClock`, without its `megaYield` after every sleep: that yield lets other tasks
/// catch up in ordinary tests, but in a soak of millions of backoffs it is nearly all of the cost. Use this clock
/// where nothing needs to interleave with the sleeper, and `ImmediateClock` or `TestClock` everywhere else.
///
/// ```swift
/// let supervisor = ResourceSupervisor(resource, name: "soak", clock: SkipAheadClock())
/// ```
public final class SkipAheadClock: Clock, Sendable {
    public typealias Duration = Swift.Duration

    /// An instant of this clock: an offset from its creation.
    public struct Instant: InstantProtocol {
        public var offset: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let current = Mutex(Instant(offset: .zero))

    public init() {}

    public var now: Instant { current.withLock { $0 } }
    public var minimumResolution: Duration { .zero }

    /// Returns at once (throwing if the task is cancelled), with `now` moved to `deadline` if it was earlier.
    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        current.withLock { now in now = max(now, deadline) }
    }
}
