/// A stream's recent bitrate: a running byte count sampled at most once a second, the rate taken over the last few
/// samples (up to ``window``).
///
/// ```swift
/// var meter = RateMeter()
/// meter.record(totalBytes, at: .now)          // on every group of messages
/// meter.bitsPerSecond(at: .now)               // over the last 5 s or less
/// ```
struct RateMeter: Sendable {
    /// How far back the rate looks.
    static let window = Duration.seconds(5)

    private var samples: [(instant: ContinuousClock.Instant, bytes: UInt64)] = []

    /// Records the running total `bytes` at `now`; keeps one sample a second.
    mutating func record(_ bytes: UInt64, at now: ContinuousClock.Instant) {
        if let last = samples.last, now - last.instant < .seconds(1) { return }
        samples.append((now, bytes))
        samples.removeAll { now - $0.instant > Self.window + .seconds(1) }
    }

    /// The rate over the samples of the window and the running total `bytes` now; 0 with no sample.
    func bitsPerSecond(_ bytes: UInt64, at now: ContinuousClock.Instant) -> Double {
        guard let first = samples.first(where: { now - $0.instant <= Self.window + .seconds(1) }) else { return 0 }
        let seconds = Units.seconds(now - first.instant)
        return seconds > 0 ? Double(bytes &- first.bytes) * 8 / seconds : 0
    }
}
