import Supervisor
import Testing

@Suite("Backoff rejects bad configuration with a typed error")
struct BackoffConfigurationTests {
    static func code(_ body: () throws -> Backoff) -> ConfigurationError.Code? {
        do {
            _ = try body()
            return nil
        } catch let error as ConfigurationError {
            #expect(!error.description.isEmpty)
            return error.code
        } catch {
            Issue.record("untyped error \(error)")
            return nil
        }
    }

    @Test("negative and zero delays where a positive one is needed")
    func negativeDelays() {
        #expect(Self.code { try .constant(.seconds(-1)) } == .outOfRange)
        #expect(Self.code { try .exponential(initial: .zero) } == .outOfRange)
        #expect(Self.code { try .exponential(initial: .seconds(-1)) } == .outOfRange)
        #expect(Self.code { try .linear(increment: .milliseconds(-1)) } == .outOfRange)
        #expect(Self.code { try .decorrelated(base: .zero) } == .outOfRange)
        #expect(Self.code { try .softExponential(median: .zero) } == .outOfRange)
        #expect(Self.code { try .steps(first: .zero) } == .outOfRange)
        #expect(Self.code { try Backoff.constant().clamped(to: .seconds(-1) ... .seconds(1)) } == .outOfRange)
        #expect(Self.code { try .constant(.zero) } == nil)
    }

    @Test("multipliers below 1, NaN and infinity")
    func multipliers() {
        #expect(Self.code { try .exponential(multiplier: 0.5) } == .outOfRange)
        #expect(Self.code { try .exponential(multiplier: -2) } == .outOfRange)
        #expect(Self.code { try .exponential(multiplier: .nan) } == .notFinite)
        #expect(Self.code { try .exponential(multiplier: .infinity) } == .notFinite)
        #expect(Self.code { try .exponential(multiplier: 1) } == nil)
        #expect(Self.code { try .exponential(multiplier: 1e6) } == nil)
    }

    @Test("a maximum below the first delay")
    func inconsistentMaximum() {
        #expect(Self.code { try .exponential(initial: .seconds(2), maximum: .seconds(1)) } == .inconsistent)
        #expect(Self.code { try .linear(initial: .seconds(2), maximum: .seconds(1)) } == .inconsistent)
        #expect(Self.code { try .decorrelated(base: .seconds(2), maximum: .seconds(1)) } == .inconsistent)
        #expect(Self.code { try .steps(first: .seconds(2), maximum: .seconds(1)) } == .inconsistent)
        #expect(Self.code { try .softExponential(median: .seconds(2), maximum: .seconds(1)) } == .inconsistent)
    }

    @Test("jitter factors outside 0...1, step counts below 1, negative attempt limits")
    func otherOptions() {
        for factor in [-0.1, 1.01, 100] {
            #expect(throws: ConfigurationError.self) { try Jitter.proportional(factor) }
        }
        #expect(throws: ConfigurationError.self) { try Jitter.proportional(.nan) }
        #expect(Self.code { try .steps(steps: 0) } == .outOfRange)
        #expect(Self.code { try Backoff.constant().limited(toRetries: -1) } == .outOfRange)
    }

    @Test("the message names the option and the value")
    func message() {
        do {
            _ = try Backoff.exponential(initial: .seconds(1), multiplier: 0.5, maximum: .seconds(60))
            Issue.record("accepted a multiplier of 0.5")
        } catch {
            #expect(error.option == "multiplier")
            #expect(error.description.contains("0.5"))
        }
    }

    @Test("a maximum at Duration's edge saturates to the longest delay")
    func hugeMaximum() throws {
        var generator = SplitMix64(seed: 1)
        var schedule = try Backoff.exponential(initial: .seconds(1), multiplier: 1e6, maximum: .seconds(Int64.max))
            .makeSchedule()
        var last = Duration.zero
        for _ in 0..<20 { last = try schedule.required(using: &generator) }
        #expect(last == Backoff.longestDelay)
    }
}
