import Supervisor

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The time one message spends on the network: `|Normal(mean, sd)|` milliseconds, as in Brooker's model.
///
/// The normal values come from a seeded ``SplitMix64`` through the Box–Muller transform, so a run is the same on
/// every machine:
///
/// ```swift
/// var network = HopDelay(mean: 10, standardDeviation: 2, seed: 7)
/// let hop = network.next()  // about 10 ms, never negative
/// ```
struct HopDelay {
    let mean: Double
    let standardDeviation: Double
    private var generator: SplitMix64
    // Box–Muller makes normal values in pairs; the second one waits here for the next call.
    private var spare: Double?

    init(mean: Double, standardDeviation: Double, seed: UInt64) {
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.generator = SplitMix64(seed: seed)
    }

    /// The next hop's delay in milliseconds.
    mutating func next() -> Double {
        abs(mean + standardDeviation * nextStandardNormal())
    }

    private mutating func nextStandardNormal() -> Double {
        if let value = spare {
            spare = nil
            return value
        }
        // 1 - U[0, 1) lies in (0, 1], so the logarithm stays finite.
        let radius = (-2 * log(1 - generator.nextUnit())).squareRoot()
        let angle = 2 * Double.pi * generator.nextUnit()
        spare = radius * sin(angle)
        return radius * cos(angle)
    }
}
