import Supervisor
import SupervisorTestKit
import Testing

/// The numbers the documentation promises: exact whole milliseconds, the decorrelated curve's real growth, the
/// configuration error's real message.
@Suite("Backoff numbers")
struct BackoffNumbersTests {
    @Test("whole-millisecond delays come out exact (rounded, not truncated)")
    func wholeMillisecondsAreExact() throws {
        var generator = SplitMix64(seed: 1)
        for milliseconds in 1...5_000 as ClosedRange<Int64> {
            var schedule = try Backoff.constant(.milliseconds(milliseconds)).makeSchedule()
            #expect(schedule.next(using: &generator) == .milliseconds(milliseconds), "\(milliseconds) ms")
        }
        var exponential = try Backoff.exponential(initial: .milliseconds(100), multiplier: 3, maximum: .seconds(30))
            .makeSchedule()
        let delays = (0..<6).map { _ in exponential.next(using: &generator) }
        #expect(delays == [100, 300, 900, 2_700, 8_100, 24_300].map { Duration.milliseconds($0) })
    }

    /// The mean of delay `n` (1-based) over `runs` seeded schedules, in seconds.
    static func meanDelay(_ backoff: Backoff, delay n: Int, resumingAfter: Int = 0, runs: Int = 20_000) -> Double {
        var total = 0.0
        for seed in 0..<runs {
            var generator = SplitMix64(seed: UInt64(seed))
            var schedule = BackoffSchedule(backoff, resumingAfter: resumingAfter)
            var delay = Duration.zero
            for _ in resumingAfter..<n { delay = schedule.next(using: &generator) ?? .zero }
            total += delay.inSeconds
        }
        return total / Double(runs)
    }

    @Test("decorrelated: the mean grows about ×1.5 per delay, as documented, and resuming follows that curve")
    func decorrelatedGrowth() throws {
        let backoff = try Backoff.decorrelated(base: .milliseconds(100), maximum: .seconds(3_600))
        for n in 1...6 {
            // m(n) = base·(2·1.5ⁿ - 1): 0.2, 0.35, 0.575, ... s.
            let growth = (0..<n).reduce(1.0) { product, _ in product * 1.5 }
            let expected = 0.1 * (2 * growth - 1)
            let measured = Self.meanDelay(backoff, delay: n)
            #expect(abs(measured - expected) / expected < 0.03, "delay \(n): \(measured) s, expected \(expected) s")
        }
        // Resumed after 5 delays, the next one has the mean of a fresh schedule's 6th, not of a doubling curve's.
        let fresh = Self.meanDelay(backoff, delay: 6)
        let resumed = Self.meanDelay(backoff, delay: 6, resumingAfter: 5)
        #expect(abs(resumed - fresh) / fresh < 0.05, "resumed \(resumed) s, fresh \(fresh) s")
    }

    @Test("the configuration error's message is the one the documentation shows")
    func configurationErrorMessage() {
        do {
            _ = try Backoff.exponential(initial: .seconds(1), multiplier: 0.5, maximum: .seconds(60))
            Issue.record("accepted a multiplier of 0.5")
        } catch {
            #expect("\(error)" == "multiplier: must be at least 1, got 0.5")
            #expect(error.code == .outOfRange)
        }
        #expect(throws: ConfigurationError.self) { try Jitter.proportional(2) }
        do {
            _ = try Jitter.proportional(2)
        } catch {
            #expect("\(error)" == "jitter factor: must be in 0...1, got 2")
        }
    }
}
