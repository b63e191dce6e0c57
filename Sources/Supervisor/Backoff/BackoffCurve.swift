#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension Backoff {
    /// The deterministic (or, for decorrelated and soft-exponential, intrinsically random) part of a backoff,
    /// before jitter. All values are in seconds and already validated and saturated by the factories.
    @usableFromInline
    enum Curve: Sendable, CustomStringConvertible {
        case constant(Double)
        case linear(initial: Double, increment: Double, maximum: Double)
        case exponential(initial: Double, multiplier: Double, maximum: Double)
        case decorrelated(base: Double, maximum: Double)
        case softExponential(median: Double, maximum: Double)
        case steps(first: Double, maximum: Double, count: Int)
        case custom(@Sendable (_ attempt: Int) -> Duration?)

        /// The memory a fresh schedule starts with (see `BackoffSchedule.memory`).
        var initialMemory: Double {
            switch self {
            case .decorrelated(let base, _): base
            default: 0
            }
        }

        /// The memory after `attempt` attempts, for a schedule resumed mid-way.
        func memory(after attempt: Int) -> Double {
            guard attempt > 0 else { return initialMemory }
            switch self {
            case .exponential(let initial, let multiplier, let maximum):
                // Closed form of the capped value for `attempt`; pow saturates to +inf, which min turns into the cap.
                return Swift.min(maximum, initial * pow(multiplier, Double(attempt - 1)))
            case .decorrelated(let base, let maximum):
                // The mean after n steps: m(n) = b/2 + 1.5·m(n-1) with m(0) = b (the mean of U(b, 3p) is
                // (b + 3p)/2), so m(n) = b·(2·1.5ⁿ - 1); pow saturates to +inf, which min turns into the cap.
                return Swift.min(maximum, base * (2 * pow(1.5, Double(attempt)) - 1))
            case .softExponential:
                return Self.softExponentialCumulative(Double(attempt - 1) + 0.5)
            default:
                return 0
            }
        }

        /// The curve's delay for `attempt` (1-based, at most `Int.max`), or `nil` to stop.
        @inlinable
        func delay<G: RandomNumberGenerator>(
            attempt: Int,
            memory: inout Double,
            using generator: inout G
        ) -> Double? {
            switch self {
            case .constant(let delay):
                return delay
            case .linear(let initial, let increment, let maximum):
                return Swift.min(maximum, initial + increment * Double(attempt - 1))
            case .exponential(let initial, let multiplier, let maximum):
                // Iterative: one multiplication per attempt. The memory never exceeds the finite maximum, so
                // the product is finite or +inf, and min brings +inf back to the maximum.
                memory = attempt == 1 ? initial : Swift.min(maximum, memory * multiplier)
                return memory
            case .decorrelated(let base, let maximum):
                // AWS: sleep = min(cap, random_between(base, sleep * 3)).
                let upper = memory * 3
                memory = Swift.min(maximum, base + (upper - base) * generator.nextUnitInterval())
                return memory
            case .softExponential(let median, let maximum):
                // Polly's DecorrelatedJitterV2: the delay is the growth of f(t) = 2^t·tanh(√(4t)) between
                // consecutive randomized instants t = n - 1 + U(0, 1), scaled so the first delay's median is `median`.
                let next = Self.softExponentialCumulative(Double(attempt - 1) + generator.nextUnitInterval())
                let growth = next - memory
                memory = next
                guard growth.isFinite else { return maximum }  // f overflowed around attempt 1024
                return Swift.min(maximum, growth * Self.softExponentialScale * median)
            case .steps(let first, let maximum, let count):
                // systemd RestartSteps: first·(maximum/first)^(k/count) with k = min(n - 1, count).
                return Self.stepDelay(first: first, maximum: maximum, count: count, step: attempt - 1)
            case .custom(let body):
                return body(attempt).map { $0.inSeconds }
            }
        }

        @usableFromInline
        static func stepDelay(first: Double, maximum: Double, count: Int, step: Int) -> Double {
            guard step < count else { return maximum }
            return first * pow(maximum / first, Double(step) / Double(count))
        }

        /// `2^t·tanh(√(4t))`: the cumulative wait of the soft-exponential curve at instant `t`, in units of
        /// its first median delay before scaling.
        @usableFromInline
        static func softExponentialCumulative(_ t: Double) -> Double {
            exp2(t) * tanh((4 * t).squareRoot())
        }

        /// Polly's scaling factor (1/1.4): brings the median first delay near the configured value.
        @usableFromInline
        static let softExponentialScale = 1 / 1.4

        @usableFromInline
        var description: String {
            func text(_ seconds: Double) -> String { "\(Duration.delay(seconds: seconds))" }
            switch self {
            case .constant(let delay):
                return "constant \(text(delay))"
            case .linear(let initial, let increment, let maximum):
                return "linear \(text(initial)) +\(text(increment)) max \(text(maximum))"
            case .exponential(let initial, let multiplier, let maximum):
                return "exponential \(text(initial)) ×\(multiplier) max \(text(maximum))"
            case .decorrelated(let base, let maximum):
                return "decorrelated \(text(base)) max \(text(maximum))"
            case .softExponential(let median, let maximum):
                return "soft-exponential \(text(median)) max \(text(maximum))"
            case .steps(let first, let maximum, let count):
                return "steps \(text(first)) to \(text(maximum)) in \(count)"
            case .custom:
                return "custom"
            }
        }
    }
}
