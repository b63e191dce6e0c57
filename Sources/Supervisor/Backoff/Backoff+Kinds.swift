// The kinds of backoff curve. Each factory validates its input (throwing `ConfigurationError`, never trapping),
// states its formula for delay n (1-based: the delay before the n-th retry), and shows its first values for its
// default parameters.

extension Backoff {
    /// The same delay for every attempt: `d(n) = delay`.
    ///
    /// Defaults: `delay` 1 s, so 1, 1, 1, … s.
    public static func constant(_ delay: Duration = .seconds(1)) throws(ConfigurationError) -> Backoff {
        Backoff(curve: .constant(try validatedSeconds(delay, "delay")))
    }

    /// A delay that grows by a fixed step: `d(n) = min(maximum, initial + increment·(n - 1))`.
    ///
    /// Defaults: 1 s, +1 s, at most 30 s.
    ///
    /// | n | 1 | 2 | 3 | 4 | 5 | … | 30 | 31 |
    /// | --- | --- | --- | --- | --- | --- | --- | --- | --- |
    /// | d(n) | 1 s | 2 s | 3 s | 4 s | 5 s | … | 30 s | 30 s |
    public static func linear(
        initial: Duration = .seconds(1),
        increment: Duration = .seconds(1),
        maximum: Duration = .seconds(30)
    ) throws(ConfigurationError) -> Backoff {
        let initial = try validatedSeconds(initial, "initial")
        let increment = try validatedSeconds(increment, "increment")
        let maximum = try validatedMaximum(maximum, atLeast: initial)
        return Backoff(curve: .linear(initial: initial, increment: increment, maximum: maximum))
    }

    /// A delay that grows geometrically up to a cap: `d(n) = min(maximum, initial·multiplier^(n-1))`.
    ///
    /// Without jitter it never decreases. Defaults: 100 ms, ×2, at most 30 s.
    ///
    /// | n | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 |
    /// | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
    /// | d(n) s | 0.1 | 0.2 | 0.4 | 0.8 | 1.6 | 3.2 | 6.4 | 12.8 | 25.6 | 30 | 30 |
    ///
    /// gRPC's connection backoff is `exponential(initial: .seconds(1), multiplier: 1.6, maximum: .seconds(120))`
    /// with `.jitter(.proportional(0.2))`.
    ///
    /// - Throws: ``ConfigurationError`` unless `initial` > 0, `multiplier` is finite and ≥ 1, and
    ///   `maximum` ≥ `initial`. Any finite multiplier and any maximum saturate instead of overflowing.
    public static func exponential(
        initial: Duration = .milliseconds(100),
        multiplier: Double = 2,
        maximum: Duration = .seconds(30)
    ) throws(ConfigurationError) -> Backoff {
        let initial = try validatedSeconds(initial, "initial", allowZero: false)
        let multiplier = try validated(multiplier, "multiplier", in: 1...Double.greatestFiniteMagnitude)
        let maximum = try validatedMaximum(maximum, atLeast: initial)
        return Backoff(curve: .exponential(initial: initial, multiplier: multiplier, maximum: maximum))
    }

    /// AWS's "decorrelated jitter": each delay is drawn between the base and three times the previous one,
    /// `d(n) = min(maximum, U(base, 3·d(n-1)))` with `d(0) = base`.
    ///
    /// The curve is random by itself; it is normally used with ``Jitter/none``. Its mean follows
    /// `m(n) = base/2 + 1.5·m(n-1)`, that is `m(n) = base·(2·1.5ⁿ - 1)`: about ×1.5 per delay until the cap (the
    /// mean of `U(base, 3p)` is `(base + 3p)/2`). Defaults: 100 ms base, at most 30 s; with `SplitMix64(seed: 1)`:
    ///
    /// | n | 1 | 2 | 3 | 4 | 5 | 6 |
    /// | --- | --- | --- | --- | --- | --- | --- |
    /// | d(n) s | 0.213 | 0.503 | 1.467 | 2.011 | 2.736 | 6.287 |
    ///
    /// - Throws: ``ConfigurationError`` unless `base` > 0 and `maximum` ≥ `base`.
    public static func decorrelated(
        base: Duration = .milliseconds(100),
        maximum: Duration = .seconds(30)
    ) throws(ConfigurationError) -> Backoff {
        let base = try validatedSeconds(base, "base", allowZero: false)
        let maximum = try validatedMaximum(maximum, atLeast: base)
        return Backoff(curve: .decorrelated(base: base, maximum: maximum))
    }

    /// Polly's `DecorrelatedJitterBackoffV2` shape: smooth exponential growth with built-in jitter and no
    /// clustering near zero.
    ///
    /// With `f(t) = 2^t·tanh(√(4t))` and randomized instants `t(n) = n - 1 + U(0, 1)`,
    /// `d(n) = min(maximum, (f(t(n)) - f(t(n-1)))·median/1.4)` and `f(t(0)) = 0`. The sum telescopes: the
    /// cumulative wait after `n` attempts is `f(t(n))·median/1.4`, so it is the **median cumulative wait**
    /// that doubles with every attempt; a single delay may well be shorter than the one before it. The first
    /// delays grow gently (the `tanh` factor), then the median of each delay doubles too.
    ///
    /// Defaults: `median` 100 ms, at most 30 s. Median of each delay over 200,000 runs:
    ///
    /// | n | 1 | 2 | 3 | 4 | 5 | 6 | 7 |
    /// | --- | --- | --- | --- | --- | --- | --- | --- |
    /// | median d(n) s | 0.090 | 0.114 | 0.202 | 0.400 | 0.800 | 1.60 | 3.20 |
    ///
    /// - Throws: ``ConfigurationError`` unless `median` > 0 and `maximum` ≥ `median`.
    public static func softExponential(
        median: Duration = .milliseconds(100),
        maximum: Duration = .seconds(30)
    ) throws(ConfigurationError) -> Backoff {
        let median = try validatedSeconds(median, "median", allowZero: false)
        let maximum = try validatedMaximum(maximum, atLeast: median)
        return Backoff(curve: .softExponential(median: median, maximum: maximum))
    }

    /// systemd's `RestartSteps`: from `first` to `maximum` in `steps` geometric steps,
    /// `d(n) = first·(maximum/first)^(k/steps)` with `k = min(n - 1, steps)`.
    ///
    /// systemd's own example (`RestartSec=1s`, `RestartMaxDelaySec=60s`, `RestartSteps=4`) is
    /// `steps(first: .seconds(1), maximum: .seconds(60), steps: 4)`: 1, 2.78, 7.75, 21.6, 60, 60, … s.
    ///
    /// Defaults: 100 ms to 30 s in 5 steps.
    ///
    /// | n | 1 | 2 | 3 | 4 | 5 | 6 | 7 |
    /// | --- | --- | --- | --- | --- | --- | --- | --- |
    /// | d(n) s | 0.1 | 0.313 | 0.979 | 3.06 | 9.59 | 30 | 30 |
    ///
    /// - Throws: ``ConfigurationError`` unless `first` > 0, `maximum` ≥ `first` and `steps` ≥ 1.
    public static func steps(
        first: Duration = .milliseconds(100),
        maximum: Duration = .seconds(30),
        steps: Int = 5
    ) throws(ConfigurationError) -> Backoff {
        let first = try validatedSeconds(first, "first", allowZero: false)
        let maximum = try validatedMaximum(maximum, atLeast: first)
        guard steps >= 1 else {
            throw ConfigurationError(.outOfRange, option: "steps", "must be at least 1, got \(steps)")
        }
        return Backoff(curve: .steps(first: first, maximum: maximum, count: steps))
    }

    /// Delays from your own function of the delay's number (1-based: `1` is the delay before the first retry);
    /// return `nil` to stop.
    ///
    /// Jitter, bounds and the attempt limit apply to its values as to any other curve's. Negative
    /// values are treated as zero.
    ///
    /// ```swift
    /// let fibonacci = Backoff.custom { attempt in
    ///     let values: [Duration] = [.seconds(1), .seconds(1), .seconds(2), .seconds(3), .seconds(5)]
    ///     return values[min(attempt, values.count) - 1]
    /// }
    /// ```
    public static func custom(_ delay: @escaping @Sendable (_ attempt: Int) -> Duration?) -> Backoff {
        Backoff(curve: .custom(delay))
    }

    private static func validatedMaximum(_ maximum: Duration, atLeast lower: Double) throws(ConfigurationError)
        -> Double
    {
        let seconds = try validatedSeconds(maximum, "maximum")
        guard seconds >= lower else {
            throw ConfigurationError(
                .inconsistent,
                option: "maximum",
                "must be at least the first delay (\(Duration.delay(seconds: lower))), got \(maximum)"
            )
        }
        return seconds
    }
}
