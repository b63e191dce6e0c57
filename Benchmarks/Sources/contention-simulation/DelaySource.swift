import Supervisor

/// One client's source of retry delays in the simulation: the library's ``BackoffSchedule``, or a local
/// candidate that the library does not offer (yet).
protocol DelaySource {
    /// The delay before the next attempt in milliseconds, or `nil` to give up.
    mutating func nextDelay(using generator: inout SplitMix64) -> Double?
}

extension BackoffSchedule: DelaySource {
    mutating func nextDelay(using generator: inout SplitMix64) -> Double? {
        guard let delay = next(using: &generator) else { return nil }
        let parts = delay.components
        return Double(parts.seconds) * 1_000 + Double(parts.attoseconds) * 1e-15
    }
}
