import Supervisor
import Testing

/// A generator that replays fixed unit-interval values, so that randomized formulas can be checked against values
/// computed by hand.
struct ScriptedUnitGenerator: RandomNumberGenerator {
    var values: [Double]
    var index = 0

    init(_ values: [Double]) {
        self.values = values
    }

    mutating func next() -> UInt64 {
        defer { index += 1 }
        // Backoff draws U(0, 1) as (next() >> 11)·2⁻⁵³, so u·2⁶⁴ maps back to u exactly for these values.
        return UInt64(values[index % values.count] * 0x1p64)
    }
}

@Suite("Backoff against published schedules")
struct BackoffGoldenTests {
    static func seconds(_ schedule: inout BackoffSchedule, _ count: Int, _ generator: inout some RandomNumberGenerator)
        -> [Double]
    {
        (0..<count).map { _ in schedule.next(using: &generator)!.inSeconds }
    }

    static func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-6) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }

    static func grpc() throws -> Backoff {
        try .exponential(initial: .seconds(1), multiplier: 1.6, maximum: .seconds(120))
    }

    @Test("gRPC connection backoff (1 s, ×1.6, max 120 s) gives the spec's sequence without jitter")
    func grpcWithoutJitter() throws {
        var generator = SplitMix64(seed: 1)
        var schedule = try Self.grpc().makeSchedule()
        let expected = [
            1, 1.6, 2.56, 4.096, 6.5536, 10.48576, 16.777216, 26.8435456, 42.94967296, 68.719476736,
            109.9511627776, 120, 120, 120,
        ]
        #expect(Self.close(Self.seconds(&schedule, expected.count, &generator), expected))
    }

    @Test("gRPC connection backoff with jitter 0.2 stays within ±20% of the spec's sequence and uses that spread")
    func grpcWithJitter() throws {
        var generator = SplitMix64(seed: 2)
        let backoff = try Self.grpc().jitter(.proportional(0.2))
        var plain = try Self.grpc().makeSchedule()
        let reference = Self.seconds(&plain, 14, &generator)
        var lowest = Double.infinity
        var highest = -Double.infinity
        for _ in 0..<2_000 {
            var schedule = backoff.makeSchedule()
            for (delay, base) in zip(Self.seconds(&schedule, 14, &generator), reference) {
                #expect(delay >= base * 0.8 - 1e-9 && delay <= base * 1.2 + 1e-9)
                lowest = min(lowest, delay / base)
                highest = max(highest, delay / base)
            }
        }
        #expect(lowest < 0.81 && highest > 1.19)
    }

    // AWS Architecture Blog, "Exponential Backoff And Jitter": base 100 ms, cap 10 s, with U = 0.25, 0.5, 0.75.
    @Test("AWS full jitter: sleep = U(0, min(cap, base·2^attempt)), by hand")
    func awsFull() throws {
        var generator = ScriptedUnitGenerator([0.25, 0.5, 0.75])
        var schedule = try Backoff.exponential(initial: .milliseconds(100), multiplier: 2, maximum: .seconds(10))
            .jitter(.full).makeSchedule()
        // 0.25·0.1, 0.5·0.2, 0.75·0.4
        #expect(Self.close(Self.seconds(&schedule, 3, &generator), [0.025, 0.1, 0.3]))
    }

    @Test("AWS equal jitter: temp/2 + U(0, temp/2), by hand")
    func awsEqual() throws {
        var generator = ScriptedUnitGenerator([0.25, 0.5, 0.75])
        var schedule = try Backoff.exponential(initial: .milliseconds(100), multiplier: 2, maximum: .seconds(10))
            .jitter(.equal).makeSchedule()
        // 0.05 + 0.25·0.05, 0.1 + 0.5·0.1, 0.2 + 0.75·0.2
        #expect(Self.close(Self.seconds(&schedule, 3, &generator), [0.0625, 0.15, 0.35]))
    }

    @Test("AWS decorrelated jitter: sleep = min(cap, U(base, 3·sleep)), by hand")
    func awsDecorrelated() throws {
        var generator = ScriptedUnitGenerator([0.25, 0.5, 0.75, 1 - 0x1p-53])
        var schedule = try Backoff.decorrelated(base: .milliseconds(100), maximum: .seconds(1)).makeSchedule()
        // s1 = 0.1 + 0.25·(0.3 - 0.1); s2 = 0.1 + 0.5·(0.45 - 0.1); s3 = 0.1 + 0.75·(0.825 - 0.1);
        // s4 = U near the top of (0.1, 1.93125), capped at 1.
        #expect(Self.close(Self.seconds(&schedule, 4, &generator), [0.15, 0.275, 0.64375, 1]))
    }

    @Test("systemd RestartSteps example: 1 s to 60 s in 4 steps gives 1, 2.78, 7.75, 21.6, 60")
    func systemdSteps() throws {
        var generator = SplitMix64(seed: 1)
        var schedule = try Backoff.steps(first: .seconds(1), maximum: .seconds(60), steps: 4).makeSchedule()
        let delays = Self.seconds(&schedule, 7, &generator)
        let rounded = delays.map { ($0 * 100).rounded() / 100 }
        #expect(rounded == [1, 2.78, 7.75, 21.56, 60, 60, 60])
    }

    @Test("the documented tables of each kind's defaults are what the code gives")
    func documentedTables() throws {
        var generator = SplitMix64(seed: 1)
        var linear = try Backoff.linear().makeSchedule()
        #expect(Self.close(Self.seconds(&linear, 5, &generator), [1, 2, 3, 4, 5]))
        var exponential = try Backoff.exponential().makeSchedule()
        #expect(
            Self.close(
                Self.seconds(&exponential, 11, &generator),
                [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30]
            )
        )
        var steps = try Backoff.steps().makeSchedule()
        let stepValues = Self.seconds(&steps, 7, &generator)
        #expect(Self.close(stepValues, [0.1, 0.313, 0.979, 3.06, 9.59, 30, 30], tolerance: 2e-3))

        var seeded = SplitMix64(seed: 1)
        var decorrelated = try Backoff.decorrelated().makeSchedule()
        let decorrelatedValues = Self.seconds(&decorrelated, 6, &seeded)
        #expect(Self.close(decorrelatedValues, [0.213, 0.503, 1.467, 2.011, 2.736, 6.287], tolerance: 1e-3))
    }

    @Test("soft-exponential: per-attempt medians match the documented table; median cumulative wait doubles")
    func softExponentialMedians() throws {
        var generator = SplitMix64(seed: 77)
        let backoff = try Backoff.softExponential()
        let runs = 20_001
        var delays = Array(repeating: [Double](), count: 8)
        var cumulative = Array(repeating: [Double](), count: 8)
        for _ in 0..<runs {
            var schedule = backoff.makeSchedule()
            var total = 0.0
            for attempt in 0..<8 {
                let delay = try schedule.required(using: &generator).inSeconds
                total += delay
                delays[attempt].append(delay)
                cumulative[attempt].append(total)
            }
        }
        let medians = delays.map { $0.sorted()[runs / 2] }
        let documented = [0.090, 0.114, 0.202, 0.400, 0.800, 1.60, 3.20]
        for (median, expected) in zip(medians, documented) {
            #expect(abs(median - expected) <= 0.04 * expected, "median \(median), documented \(expected)")
        }
        let cumulativeMedians = cumulative.map { $0.sorted()[runs / 2] }
        for attempt in 3..<8 {
            let ratio = cumulativeMedians[attempt] / cumulativeMedians[attempt - 1]
            #expect(abs(ratio - 2) < 0.1, "cumulative ratio \(ratio) at attempt \(attempt + 1)")
        }
        // Single delays are not monotonic: some run has a delay shorter than the one before it.
        var schedule = backoff.makeSchedule()
        var previous = 0.0
        var decreased = false
        for _ in 0..<200 {
            let delay = try schedule.required(using: &generator).inSeconds
            if delay < previous { decreased = true }
            previous = delay
            if delay >= 30 { schedule.reset() }
        }
        #expect(decreased)
    }
}

@Suite("Where the cap applies")
struct BackoffCapTests {
    @Test("the curve's maximum applies before jitter: delays at the cap stay spread out, around it or below it")
    func capBeforeJitter() throws {
        var generator = SplitMix64(seed: 4)
        let capped = try Backoff.exponential(initial: .seconds(1), multiplier: 10, maximum: .seconds(10))
        var full = BackoffSchedule(capped.jitter(.full), resumingAfter: 50)
        var proportional = BackoffSchedule(try capped.jitter(.proportional(0.5)), resumingAfter: 50)
        var fullValues: [Double] = []
        var proportionalValues: [Double] = []
        for _ in 0..<2_000 {
            fullValues.append(try full.required(using: &generator).inSeconds)
            proportionalValues.append(try proportional.required(using: &generator).inSeconds)
        }
        // Full jitter: U(0, cap), not a pile of delays at the cap.
        #expect(fullValues.max()! < 10 && fullValues.min()! < 0.1)
        #expect(Set(fullValues.map { ($0 * 10).rounded() }).count > 90)
        // Proportional jitter: around the cap, up to 50% above it.
        #expect(proportionalValues.max()! > 14.9 && proportionalValues.min()! < 5.1)
    }

    @Test("clamped(to:) bounds the delay after jitter")
    func clampAfterJitter() throws {
        var generator = SplitMix64(seed: 5)
        let backoff = try Backoff.constant(.seconds(10)).jitter(.proportional(0.5)).clamped(
            to: .seconds(8) ... .seconds(11))
        var schedule = backoff.makeSchedule()
        var values: [Double] = []
        for _ in 0..<2_000 { values.append(try schedule.required(using: &generator).inSeconds) }
        #expect(values.min()! == 8 && values.max()! == 11)
        #expect(values.contains { $0 > 8 && $0 < 11 })
    }
}
