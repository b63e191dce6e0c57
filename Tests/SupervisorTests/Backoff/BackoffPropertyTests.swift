import Supervisor
import Testing

@Suite("Backoff properties over random policies")
struct BackoffPropertyTests {
    static let policies = 10_000

    /// Relative slack for the conversion of a delay to whole nanoseconds and for Double rounding.
    static func within(_ value: Double, _ range: ClosedRange<Double>) -> Bool {
        let slack = 1e-9 + 1e-12 * range.upperBound
        return value >= range.lowerBound - slack && value <= range.upperBound + slack
    }

    @Test("every delay of 10,000 random policies lies within its documented bounds, from attempt 1 to Int.max")
    func delaysWithinBounds() throws {
        var generator = SplitMix64(seed: 0xB0FF)
        for _ in 0..<Self.policies {
            let policy = try RandomPolicy.make(using: &generator)
            let range = policy.delayRange
            var schedule = policy.backoff.makeSchedule()
            for attempt in 1...40 {
                let delay = try schedule.required(using: &generator)
                #expect(Self.within(delay.inSeconds, range), "\(policy) attempt \(attempt): \(delay) not in \(range)")
                #expect(delay <= Backoff.longestDelay)
            }
            // Far attempts, including the very last one an Int can count, must neither trap nor leave the bounds.
            for start in [1_023, 1_100, Int.max / 2, Int.max - 1, Int.max] {
                var far = BackoffSchedule(policy.backoff, resumingAfter: start)
                for _ in 0..<3 {
                    let delay = try far.required(using: &generator)
                    #expect(Self.within(delay.inSeconds, range), "\(policy) after \(start): \(delay) not in \(range)")
                }
                #expect(far.retries == (start > Int.max - 3 ? Int.max : start + 3))
            }
        }
    }

    @Test("a schedule at attempt Int.max stays there instead of overflowing")
    func saturatesAtIntMax() throws {
        var generator = SplitMix64(seed: 3)
        var schedule = BackoffSchedule(try .exponential(multiplier: 1e6).jitter(.full), resumingAfter: Int.max)
        for _ in 0..<5 {
            _ = try schedule.required(using: &generator)
            #expect(schedule.retries == Int.max)
        }
    }

    @Test("exponential without jitter never decreases, for 10,000 random parameter sets")
    func exponentialIsMonotonic() throws {
        var generator = SplitMix64(seed: 0xE4)
        for _ in 0..<Self.policies {
            let initial = Duration.nanoseconds(Int64.random(in: 1...10_000_000_000, using: &generator))
            let multiplier = [1.0, 1.01, 1.5, 1.6, 2, 3, 1e3, 1e6].randomElement(using: &generator)!
            let maximum = initial * Int.random(in: 1...1_000_000, using: &generator)
            let backoff = try Backoff.exponential(initial: initial, multiplier: multiplier, maximum: maximum)
            var schedule = backoff.makeSchedule()
            var previous = Duration.zero
            for _ in 0..<64 {
                let delay = try schedule.required(using: &generator)
                #expect(delay >= previous, "\(backoff): \(delay) after \(previous)")
                #expect(Self.within(delay.inSeconds, 0...maximum.inSeconds))
                previous = delay
            }
            let reachedCap = Self.within(previous.inSeconds, maximum.inSeconds...maximum.inSeconds)
            #expect(reachedCap || multiplier < 1.5, "\(backoff) never reached its cap: \(previous)")
        }
    }

    @Test("full jitter's mean is within 2% of d/2 over 100,000 samples", arguments: [1 as UInt64, 2, 3])
    func fullJitterMean(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let backoff = try Backoff.constant(.seconds(10)).jitter(.full)
        var schedule = backoff.makeSchedule()
        var sum = 0.0
        var smallest = Double.infinity
        var largest = 0.0
        let samples = 100_000
        for _ in 0..<samples {
            let delay = try schedule.required(using: &generator).inSeconds
            sum += delay
            smallest = min(smallest, delay)
            largest = max(largest, delay)
        }
        let mean = sum / Double(samples)
        #expect(abs(mean - 5) <= 0.02 * 5, "mean \(mean)")
        // The whole range is used, not a narrow band around the mean.
        #expect(smallest < 0.01 && largest > 9.99)
    }

    @Test("equal jitter stays in [d/2, d) and proportional jitter in [d(1-f), d(1+f)), using the whole range")
    func jitterRanges() throws {
        var generator = SplitMix64(seed: 11)
        for factor in [0.0, 0.1, 0.2, 0.5, 1.0] {
            var schedule = try Backoff.constant(.seconds(8)).jitter(.proportional(factor)).makeSchedule()
            var values: [Double] = []
            for _ in 0..<20_000 {
                values.append(try schedule.required(using: &generator).inSeconds)
            }
            #expect(values.allSatisfy { $0 >= 8 * (1 - factor) - 1e-9 && $0 <= 8 * (1 + factor) + 1e-9 })
            #expect(values.min()! <= 8 * (1 - factor) + 0.01 && values.max()! >= 8 * (1 + factor) - 0.01)
        }
        var schedule = try Backoff.constant(.seconds(8)).jitter(.equal).makeSchedule()
        var values: [Double] = []
        for _ in 0..<20_000 {
            values.append(try schedule.required(using: &generator).inSeconds)
        }
        #expect(values.allSatisfy { $0 >= 4 && $0 < 8 })
        #expect(values.min()! < 4.01 && values.max()! > 7.99)
    }

    @Test("the same seed gives the same delays, for 10,000 random policies; another seed does not")
    func seededRunsAreIdentical() throws {
        var policyGenerator = SplitMix64(seed: 0x5EED)
        var differing = 0
        var randomized = 0
        for index in 0..<Self.policies {
            let policy = try RandomPolicy.make(using: &policyGenerator)
            func run(seed: UInt64) -> [Duration?] {
                var generator = SplitMix64(seed: seed)
                var schedule = policy.backoff.makeSchedule()
                return (0..<20).map { _ in schedule.next(using: &generator) }
            }
            let seed = UInt64(index)
            #expect(run(seed: seed) == run(seed: seed))
            if policy.isRandomized {
                randomized += 1
                if run(seed: seed) != run(seed: seed + 1_000_003) { differing += 1 }
            }
        }
        #expect(differing == randomized)
        #expect(randomized > Self.policies / 3)
    }

    @Test("an attempt limit gives exactly that many delays, then nil for good; reset starts over")
    func attemptLimit() throws {
        var generator = SplitMix64(seed: 5)
        for limit in [0, 1, 2, 7, 100] {
            var schedule = try Backoff.exponential().jitter(.equal).limited(toRetries: limit).makeSchedule()
            var count = 0
            while schedule.next(using: &generator) != nil, count <= limit { count += 1 }
            #expect(count == limit)
            #expect(schedule.next(using: &generator) == nil)
            schedule.reset()
            #expect(schedule.retries == 0)
            #expect((schedule.next(using: &generator) != nil) == (limit > 0))
        }
    }

    @Test("a custom curve's nil stops the schedule, and its values get jitter and bounds")
    func customCurve() throws {
        var generator = SplitMix64(seed: 9)
        let backoff = try Backoff.custom { attempt in attempt <= 3 ? .seconds(attempt * 10) : nil }
            .clamped(to: .seconds(15) ... .seconds(25))
        var schedule = backoff.makeSchedule()
        #expect(schedule.next(using: &generator) == .seconds(15))
        #expect(schedule.next(using: &generator) == .seconds(20))
        #expect(schedule.next(using: &generator) == .seconds(25))
        #expect(schedule.next(using: &generator) == nil)
        var negative = Backoff.custom { _ in .seconds(-5) }.makeSchedule()
        #expect(negative.next(using: &generator) == .zero)
    }
}
