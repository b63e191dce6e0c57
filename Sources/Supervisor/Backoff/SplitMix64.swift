/// A small, fast, seedable random number generator (Steele, Lea and Flood's SplitMix64).
///
/// Every backoff schedule takes its randomness from a generator passed in, so a seeded generator reproduces a
/// schedule exactly. Use it in tests, in simulations, and wherever a run must be replayable:
///
/// ```swift
/// var generator = SplitMix64(seed: 42)
/// var schedule = try Backoff.exponential(initial: .milliseconds(100)).jitter(.full).makeSchedule()
/// let first = schedule.next(using: &generator)  // the same value for seed 42, on every machine
/// ```
///
/// It is not cryptographically secure. Production code that wants unpredictable jitter passes
/// `SystemRandomNumberGenerator` instead.
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
    /// The generator's whole state; two generators with the same state produce the same sequence.
    public var state: UInt64

    /// Creates a generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        self.state = seed
    }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }
}

extension RandomNumberGenerator {
    /// A uniform value in `[0, 1)` with 53 random bits: cheaper than `Double.random(in:using:)`, which
    /// has to handle arbitrary ranges.
    @inlinable
    mutating func nextUnitInterval() -> Double {
        Double(next() &>> 11) * 0x1.0p-53
    }
}
