/// How much one recording may hold in memory while its disk does not take it: ``RecordingOptions/heldTime`` of its
/// stream at the fastest rate of the last second, measured in quarters of a second as messages arrive, between
/// ``RecordingOptions/minHeldBytes`` and ``RecordingOptions/maxHeldBytes``. Measured where the messages arrive, not
/// by the writer: a writer that waits for its disk measures nothing, which is when the bound matters.
///
/// ```swift
/// var bound = HoldBound(options: options, at: .now)
/// bound.note(received: total, at: .now)      // at each write
/// guard held + message.count <= bound.limit else { throw … }
/// ```
struct HoldBound {
    /// The bound now, in bytes.
    private(set) var limit: Int
    private let (floor, ceiling): (Double, Double)
    private let seconds: Double
    /// Where the current quarter began: the bytes received then, and when.
    private var windowReceived: UInt64 = 0
    private var windowStart: ContinuousClock.Instant
    /// Bytes per second of the last four quarters, the newest last.
    private var rates: [Double] = []

    /// A quarter of a second: short enough that a fast stream's bound rises before a disk hiccup ends it (the floor
    /// lasts 134 ms at 500 Mbit/s), long enough to average a burst.
    static let window = Duration.milliseconds(250)

    init(options: RecordingOptions, at now: ContinuousClock.Instant) {
        (floor, ceiling) = (Double(options.minHeldBytes), Double(options.maxHeldBytes))
        seconds = Units.seconds(options.heldTime)
        limit = options.minHeldBytes
        windowStart = now
    }

    /// Counts the stream up to `received` bytes at `now`; a quarter that ended sets the bound from the fastest of
    /// the last four, so one quiet quarter does not drop it.
    mutating func note(received: UInt64, at now: ContinuousClock.Instant) {
        let elapsed = now - windowStart
        guard elapsed >= Self.window else { return }
        rates.append(Double(received &- windowReceived) / Units.seconds(elapsed))
        if rates.count > 4 { rates.removeFirst() }
        (windowReceived, windowStart) = (received, now)
        // Clamped in Double first: no rate, however absurd, can overflow the conversion.
        limit = Int(min(ceiling, max(floor, (rates.max() ?? 0) * seconds)))
    }
}
