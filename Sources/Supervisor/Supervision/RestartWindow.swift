/// The instants of the most recent restarts, to tell whether one more would exceed a ``RestartIntensity``.
///
/// A ring of `maxRestarts` slots, allocated once: recording a restart never allocates.
struct RestartWindow: Sendable {
    let intensity: RestartIntensity
    private var instants: [Duration] = []
    private var oldest = 0

    init(_ intensity: RestartIntensity) {
        self.intensity = intensity
        instants.reserveCapacity(intensity.maxRestarts)
    }

    /// Records a restart at `now`; returns `false` when it is one more than the intensity allows within its period.
    mutating func admit(at now: Duration) -> Bool {
        let limit = intensity.maxRestarts
        guard limit > 0 else { return false }
        if instants.count < limit {
            instants.append(now)
            return true
        }
        // Full: the oldest of the last `limit` restarts decides. Within the period, this is restart `limit + 1`.
        let withinPeriod = now - instants[oldest] < intensity.period
        instants[oldest] = now
        oldest = (oldest + 1) % limit
        return !withinPeriod
    }

    /// Forgets every restart, as after recovering from the degraded state.
    mutating func removeAll() {
        instants.removeAll(keepingCapacity: true)
        oldest = 0
    }
}
