import Supervisor
import Testing

@testable import Supervisor

/// Random, often hostile, values into every public initializer of the core: each call either builds a value or
/// throws `ConfigurationError`; built values then work without trapping. A trap would end the test process.
@Suite("Configuration fuzz of the core")
struct ConfigurationFuzzTests {
    static let rounds = 10_000

    /// Extreme and ordinary durations, negative ones included.
    static func duration(_ random: inout SplitMix64) -> Duration {
        switch random.next() % 8 {
        case 0: .zero
        case 1: .seconds(Int64.max)
        case 2: .seconds(Int64.min)
        case 3: Duration(secondsComponent: Int64(bitPattern: random.next()), attosecondsComponent: 0)
        case 4: .nanoseconds(Int64(bitPattern: random.next()) % 1_000)
        case 5: .milliseconds(Int64.random(in: -1_000...100_000, using: &random))
        case 6: .seconds(Int64.random(in: 0...1_000_000, using: &random))
        default: .microseconds(Int64.random(in: 1...10_000, using: &random))
        }
    }

    static func double(_ random: inout SplitMix64) -> Double {
        [
            .nan, .infinity, -.infinity, 0, -1, 0.5, 1, 1.6, 2, 1e6, 1e300, -1e-300, .ulpOfOne,
            Double.random(in: -10...10, using: &random),
        ][Int(random.next() % 14)]
    }

    static func integer(_ random: inout SplitMix64) -> Int {
        [Int.min, -1, 0, 1, 2, 7, 100, 100_000, 100_001, Int.max, Int(truncatingIfNeeded: random.next())][
            Int(random.next() % 11)]
    }

    /// Builds whatever the random values allow; counts what was built and what was refused.
    static func attempt<T>(_ built: inout Int, _ refused: inout Int, _ body: () throws -> T) -> T? {
        do {
            let value = try body()
            built += 1
            return value
        } catch is ConfigurationError {
            refused += 1
            return nil
        } catch {
            Issue.record("untyped error \(error)")
            return nil
        }
    }

    @Test("10,000 random backoffs, jitters, clamps, limits, intensities and policies: typed errors or working values")
    func fuzz() throws {
        var random = SplitMix64(seed: 0xF022)
        var built = 0
        var refused = 0
        for _ in 0..<Self.rounds {
            let a = Self.duration(&random)
            let b = Self.duration(&random)
            let backoff: Backoff? = Self.attempt(&built, &refused) {
                switch random.next() % 6 {
                case 0: try Backoff.constant(a)
                case 1: try Backoff.linear(initial: a, increment: Self.duration(&random), maximum: b)
                case 2: try Backoff.exponential(initial: a, multiplier: Self.double(&random), maximum: b)
                case 3: try Backoff.decorrelated(base: a, maximum: b)
                case 4: try Backoff.softExponential(median: a, maximum: b)
                default: try Backoff.steps(first: a, maximum: b, steps: Self.integer(&random))
                }
            }
            let jitter = Self.attempt(&built, &refused) { try Jitter.proportional(Self.double(&random)) }
            var shaped = backoff.map { $0.jitter(jitter ?? .full) }
            if let current = shaped, random.next() % 2 == 0 {
                shaped = Self.attempt(&built, &refused) { try current.clamped(to: min(a, b)...max(a, b)) }
            }
            if let current = shaped, random.next() % 2 == 0 {
                shaped = Self.attempt(&built, &refused) { try current.limited(toRetries: Self.integer(&random)) }
            }
            let intensity = Self.attempt(&built, &refused) {
                try RestartIntensity(maxRestarts: Self.integer(&random), within: Self.duration(&random))
            }
            let escalation = Self.attempt(&built, &refused) { try Escalation.degrade(probeInterval: a) }
            let tolerance = Self.attempt(&built, &refused) { try TimerTolerance.fraction(Self.double(&random)) }
            let fixed = Self.attempt(&built, &refused) { try TimerTolerance.fixed(b) }
            let maxAttempts = Self.integer(&random)
            let policy = Self.attempt(&built, &refused) {
                try RestartPolicy(
                    backoff: shaped ?? RestartPolicy.standardBackoff,
                    intensity: intensity,
                    escalation: escalation ?? .giveUp,
                    stableUptime: a,
                    maxAttempts: maxAttempts,
                    maxFailingDuration: random.next() % 2 == 0 ? b : nil,
                    timerTolerance: tolerance ?? fixed ?? .standard
                )
            }
            // What was built must work: delays from the start and from far attempts, never above the longest delay.
            if let shaped {
                var schedule = shaped.makeSchedule()
                var far = BackoffSchedule(shaped, resumingAfter: Self.integer(&random))
                for _ in 0..<5 {
                    for delay in [schedule.next(using: &random), far.next(using: &random)].compactMap({ $0 }) {
                        #expect(delay >= .zero && delay <= Backoff.longestDelay)
                    }
                }
            }
            // And a supervisor's decisions under it: failures at random instants, up to the end of supervision.
            if let policy {
                _ = policy.description
                var machine = SupervisorStateMachine(policy: policy, generator: SplitMix64(seed: 1))
                _ = machine.begin(at: .zero)
                var now = Duration.zero
                for _ in 0..<10 {
                    now += .milliseconds(Int64.random(in: 0...100_000, using: &random))
                    guard case .restart(let restart) = machine.startFailed(Transient(), at: now).outcome else { break }
                    #expect(restart.delay >= .zero && restart.delay <= Backoff.longestDelay)
                    now += restart.delay
                    _ = machine.backoffEnded()
                }
            }
        }
        // Both outcomes happen a lot: the fuzz reaches the validation and the values past it.
        #expect(built > Self.rounds && refused > Self.rounds)
    }
}
