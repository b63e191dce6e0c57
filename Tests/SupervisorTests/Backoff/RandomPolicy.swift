import Supervisor

/// A random backoff policy together with the bounds its documentation promises for every delay.
struct RandomPolicy: CustomStringConvertible {
    var backoff: Backoff
    /// The smallest and largest value the curve can give before jitter, in seconds.
    var curveRange: ClosedRange<Double>
    var clamp: ClosedRange<Double>?

    /// The documented range of every delay: the curve's range, widened by the jitter, then clamped, then
    /// saturated to `Backoff.longestDelay`.
    var delayRange: ClosedRange<Double> {
        let longest = Backoff.longestDelay.inSeconds
        var low = curveRange.lowerBound
        var high = curveRange.upperBound
        switch backoff.jitter {
        case .none: break
        case .full: low = 0
        case .equal: low /= 2
        default:
            let factor = jitterFactor
            low *= 1 - factor
            high *= 1 + factor
        }
        if let clamp {
            low = min(max(low, clamp.lowerBound), clamp.upperBound)
            high = min(max(high, clamp.lowerBound), clamp.upperBound)
        }
        return min(low, longest)...min(high, longest)
    }

    var jitterFactor: Double = 0
    /// Whether the curve draws random values itself (decorrelated, soft-exponential).
    var randomCurve = false

    /// Whether the delays must depend on the generator: some randomness, a range wide enough that whole
    /// nanoseconds can show it, and no clamp that could pin every delay to one bound.
    var isRandomized: Bool {
        let jittered: Bool
        switch backoff.jitter {
        case .none: jittered = false
        case .full, .equal: jittered = true
        default: jittered = jitterFactor > 1e-6
        }
        // A decorrelated cap below twice the base pins most draws to the cap.
        let spread = randomCurve && curveRange.upperBound > curveRange.lowerBound * 2
        return clamp == nil && curveRange.upperBound >= 1e-3 && (jittered || spread)
    }

    var description: String { backoff.description }

    /// Draws a policy of any kind, with parameters from tiny to far beyond `Duration`'s comfortable range.
    static func make(using generator: inout SplitMix64) throws -> RandomPolicy {
        func duration(_ generator: inout SplitMix64) -> Duration {
            switch generator.next() % 6 {
            case 0: .nanoseconds(Int64.random(in: 1...1_000, using: &generator))
            case 1: .milliseconds(Int64.random(in: 1...10_000, using: &generator))
            case 2: .seconds(Int64.random(in: 1...100_000, using: &generator))
            case 3: .seconds(Int64.max)  // Duration's largest whole seconds: must saturate
            case 4:
                Duration(secondsComponent: Int64.random(in: 0...1 << 40, using: &generator), attosecondsComponent: 0)
            default: .microseconds(Int64.random(in: 1...1_000_000, using: &generator))
            }
        }
        let longest = Backoff.longestDelay.inSeconds
        let a = duration(&generator)
        let b = duration(&generator)
        let (low, high) = a <= b ? (a, b) : (b, a)
        let lowSeconds = min(low.inSeconds, longest)
        let highSeconds = min(high.inSeconds, longest)

        var policy: RandomPolicy
        switch generator.next() % 6 {
        case 0:
            policy = RandomPolicy(backoff: try .constant(low), curveRange: lowSeconds...lowSeconds)
        case 1:
            policy = RandomPolicy(
                backoff: try .linear(initial: low, increment: duration(&generator), maximum: high),
                curveRange: lowSeconds...highSeconds
            )
        case 2:
            let multiplier = [1, 1.000001, 1.6, 2, 10, 1e6][Int(generator.next() % 6)]
            policy = RandomPolicy(
                backoff: try .exponential(initial: low, multiplier: multiplier, maximum: high),
                curveRange: lowSeconds...highSeconds
            )
        case 3:
            policy = RandomPolicy(
                backoff: try .decorrelated(base: low, maximum: high),
                curveRange: lowSeconds...highSeconds
            )
            policy.randomCurve = true
        case 4:
            // The soft-exponential curve has no floor: a delay is the growth of a smooth function.
            policy = RandomPolicy(
                backoff: try .softExponential(median: low, maximum: high),
                curveRange: 0...highSeconds
            )
            policy.randomCurve = true
        default:
            policy = RandomPolicy(
                backoff: try .steps(first: low, maximum: high, steps: Int.random(in: 1...20, using: &generator)),
                curveRange: lowSeconds...highSeconds
            )
        }
        switch generator.next() % 4 {
        case 0: break
        case 1: policy.backoff = policy.backoff.jitter(.full)
        case 2: policy.backoff = policy.backoff.jitter(.equal)
        default:
            policy.jitterFactor = Double.random(in: 0...1, using: &generator)
            policy.backoff = policy.backoff.jitter(try .proportional(policy.jitterFactor))
        }
        if generator.next() % 3 == 0 {
            let c = duration(&generator)
            let d = duration(&generator)
            let bounds = c <= d ? c...d : d...c
            policy.backoff = try policy.backoff.clamped(to: bounds)
            policy.clamp = min(bounds.lowerBound.inSeconds, longest)...min(bounds.upperBound.inSeconds, longest)
        }
        return policy
    }
}

extension Duration {
    /// This duration in seconds, as the library's own conversion gives it (the tests import the library without
    /// `@testable` here, so they keep a copy).
    var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

/// The schedule ended where the test expected a delay.
struct ScheduleEnded: Error {}

extension BackoffSchedule {
    /// The next delay, or a test failure when the schedule has ended.
    mutating func required(using generator: inout some RandomNumberGenerator) throws -> Duration {
        guard let delay = next(using: &generator) else { throw ScheduleEnded() }
        return delay
    }
}
