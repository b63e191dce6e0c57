import Clocks
import Supervisor
import SupervisorTestKit
import Testing

@Suite("One-shot retry: the onRetry hook")
struct RetryHookTests {
    /// What the hook saw, as plain values, and when on the clock.
    struct Seen: Equatable {
        var attempt: Int
        var error: String
        var decision: FailureDecision
        var delay: Duration
        var at: Duration
    }

    @Test("the hook sees each retried failure before its backoff: attempt, error, decision and delay")
    func hook() async throws {
        let clock = ImmediateClock()
        let start = clock.now
        let flaky = Flaky([Transient(id: 1), Throttled(retryAfter: .seconds(30)), Transient(id: 3), Fatal()])
        var seen: [Seen] = []
        let error = await retryError {
            try await retry(
                backoff: .exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(60)),
                clock: clock
            ) {
                try flaky.call()
            } onRetry: { failed in
                let at = start.duration(to: clock.now)
                seen.append(
                    Seen(
                        attempt: failed.attempt, error: "\(failed.error)", decision: failed.decision,
                        delay: failed.delay, at: at))
            }
        }
        // Not called for the failure that ends the retries.
        #expect(error?.reason == .gaveUp && error?.attempts == 4)
        #expect(
            seen == [
                Seen(attempt: 1, error: "Transient(id: 1)", decision: .restart, delay: .seconds(1), at: .zero),
                Seen(
                    attempt: 2, error: "Throttled(retryAfter: 30.0 seconds)", decision: .restart(after: .seconds(30)),
                    delay: .seconds(30), at: .seconds(1)),
                Seen(attempt: 3, error: "Transient(id: 3)", decision: .restart, delay: .seconds(4), at: .seconds(31)),
            ])
    }

    @Test("with a seeded generator the hook reports exactly the jittered delays that are waited")
    func jitteredDelays() async throws {
        let backoff = try Backoff.exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(60)).jitter(.full)
        var reference = backoff.makeSchedule()
        var referenceGenerator = SplitMix64(seed: 42)
        let expected = (0..<5).compactMap { _ in reference.next(using: &referenceGenerator) }
        let clock = ImmediateClock()
        let start = clock.now
        var delays: [Duration] = []
        let flaky = Flaky((1...5).map { Transient(id: $0) })
        let value = try await retry(
            backoff: backoff, maxAttempts: 6, clock: clock, generator: SplitMix64(seed: 42)
        ) {
            try flaky.call()
        } onRetry: {
            delays.append($0.delay)
        }
        #expect(value == 6 && delays == expected && Set(delays).count == 5)
        #expect(start.duration(to: clock.now) == expected.reduce(.zero, +))
    }

    /// Retries on its own actor; the hook mutates the actor's state synchronously, which compiles only because
    /// the hook runs in the caller's isolation.
    actor Counter {
        var attemptsSeen: [Int] = []

        func run(failing errors: [any Error]) async throws -> Int {
            let flaky = Flaky(errors)
            return try await retry(clock: ImmediateClock()) {
                try flaky.call()
            } onRetry: {
                attemptsSeen.append($0.attempt)
            }
        }
    }

    @Test("the hook runs in the caller's isolation")
    func isolation() async throws {
        let counter = Counter()
        let value = try await counter.run(failing: [Transient(), Transient()])
        #expect(value == 3)
        #expect(await counter.attemptsSeen == [1, 2])
    }
}
