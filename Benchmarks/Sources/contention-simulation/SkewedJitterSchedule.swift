import Supervisor

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A candidate the library does not offer: the curve's delay `d` scaled by `U(0, 1)^power`, a full jitter skewed
/// towards short delays (`power` 1 is plain full jitter; its mean is `d/(power + 1)`).
///
/// The idea: grow the window fast to spread many clients, while keeping some quick retries for the case of few.
///
/// ```swift
/// var schedule = SkewedJitterSchedule(try .exponential(initial: .milliseconds(10), multiplier: 4), power: 1.5)
/// ```
struct SkewedJitterSchedule: DelaySource {
    private var curve: BackoffSchedule
    private let power: Double

    /// A schedule of `backoff`'s delays (taken without jitter) skewed by `power`.
    init(_ backoff: Backoff, power: Double) {
        self.curve = backoff.jitter(.none).makeSchedule()
        self.power = power
    }

    mutating func nextDelay(using generator: inout SplitMix64) -> Double? {
        guard let delay = curve.nextDelay(using: &generator) else { return nil }
        return delay * pow(generator.nextUnit(), power)
    }
}
