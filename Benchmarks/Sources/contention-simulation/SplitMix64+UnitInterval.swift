import Supervisor

extension SplitMix64 {
    /// A uniform value in `[0, 1)` built from the top 53 bits of the next output.
    mutating func nextUnit() -> Double {
        Double(next() &>> 11) * 0x1.0p-53
    }
}
