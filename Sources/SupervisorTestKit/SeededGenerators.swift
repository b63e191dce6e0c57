public import Supervisor
import Synchronization

extension SplitMix64 {
    /// A factory of generators for supervisors under test: the `n`-th generator it makes is seeded with
    /// `seed + n`, so a whole run is reproducible while each supervisor still draws its own sequence.
    ///
    /// ```swift
    /// let makeGenerator = SplitMix64.factory(seed: 42)
    /// var first = makeGenerator()   // seeded with 42
    /// var second = makeGenerator()  // seeded with 43
    /// ```
    public static func factory(seed: UInt64) -> @Sendable () -> SplitMix64 {
        let next = Mutex(seed)
        return {
            next.withLock { seed in
                defer { seed &+= 1 }
                return SplitMix64(seed: seed)
            }
        }
    }
}
