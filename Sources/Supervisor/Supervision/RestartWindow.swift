/// The instants of the most recent restarts, to tell whether one more would exceed a ``RestartIntensity``.
///
/// A ring of `maxRestarts` slots, allocated at the first restart and then reused: recording a restart allocates
/// once at most. The intensity is passed in rather than kept, as the policy already holds it.
struct RestartWindow: Sendable {
    private var instants: [Duration] = []
    private var oldest = 0

    /// Records a restart at `now`; returns `false` when it is one more than `intensity` allows within its period.
    mutating func admit(at now: Duration, within intensity: RestartIntensity) -> Bool {
        let limit = intensity.maxRestarts
        guard limit > 0 else { return false }
        if instants.isEmpty { instants.reserveCapacity(limit) }
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
