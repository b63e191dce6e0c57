import Supervisor

// The search for a policy with at most 0.8× full jitter's writes at no more than 1.1× its completion time.
extension Policy {
    /// The smallest change that reaches the goal: Brooker's curve with a multiplier of 4 instead of 2.
    static let exponentialTimesFour = exponential(initial: 10, multiplier: 4)

    /// The best trade-off found: the soft-exponential curve with a 120 ms median, plus full jitter.
    static let softExponentialFullJitter = softExponential(median: 120, jitter: .full)

    /// The candidates run at every N besides Brooker's four.
    static let shortlist: [Policy] = [.exponentialTimesFour, .softExponentialFullJitter]

    /// Everything tried, at N = 10 and N = 190: the library's kinds with other parameters, and one local kind.
    static let candidates: [Policy] = [
        .fullJitter,
        exponential(initial: 10, multiplier: 3),
        .exponentialTimesFour,
        exponential(initial: 10, multiplier: 4, maximum: 1_500),
        exponential(initial: 10, multiplier: 8, maximum: 1_500),
        exponential(initial: 20, multiplier: 3),
        exponential(initial: 40, multiplier: 2),
        exponential(initial: 80, multiplier: 2),
        exponential(initial: 10, multiplier: 2, maximum: 1_000),
        exponential(initial: 10, multiplier: 2, maximum: 4_000),
        Policy("constant 2 s, full", try! .constant(cap).jitter(.full)),
        Policy("decorrelated 20 ms", try! .decorrelated(base: .milliseconds(20), maximum: cap)),
        softExponential(median: 5, jitter: .none),
        softExponential(median: 120, jitter: .none),
        softExponential(median: 40, jitter: .full),
        softExponential(median: 80, jitter: .full),
        .softExponentialFullJitter,
        softExponential(median: 160, jitter: .full),
        softExponential(median: 120, jitter: .full, maximum: 1_500),
        Policy("×4, U^1.5 skew (local)") {
            SkewedJitterSchedule(try! .exponential(initial: .milliseconds(10), multiplier: 4, maximum: cap), power: 1.5)
        },
    ]

    private static func exponential(initial: Int, multiplier: Double, maximum: Int = 2_000) -> Policy {
        let cap = maximum == 2_000 ? "" : ", cap \(maximum)"
        let multiplierText = multiplier == multiplier.rounded() ? "\(Int(multiplier))" : "\(multiplier)"
        return Policy(
            "exp \(initial) ms ×\(multiplierText)\(cap), full",
            try! .exponential(
                initial: .milliseconds(initial),
                multiplier: multiplier,
                maximum: .milliseconds(maximum)
            ).jitter(.full)
        )
    }

    private static func softExponential(median: Int, jitter: Jitter, maximum: Int = 2_000) -> Policy {
        let cap = maximum == 2_000 ? "" : ", cap \(maximum)"
        let suffix = jitter == .none ? "" : ", \(jitter)"
        return Policy(
            "soft-exp \(median) ms\(cap)\(suffix)",
            try! .softExponential(median: .milliseconds(median), maximum: .milliseconds(maximum)).jitter(jitter)
        )
    }
}
