import Clocks
import Supervisor
import Testing

@Suite("One-shot retry: maximum elapsed time")
struct RetryDeadlineTests {
    static func backoff() throws -> Backoff {
        try .exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(60))
    }

    /// Fails every call; returns the error, the calls and the time from the first call to the end on the clock.
    static func alwaysFailing(
        maxElapsed: Duration,
        backoff: Backoff,
        callTakes: Duration = .zero
    ) async -> (error: RetryError?, calls: Int, elapsed: Duration) {
        let clock = ImmediateClock()
        let start = clock.now
        var calls = 0
        let error = await retryError {
            try await retry(backoff: backoff, maxAttempts: 100, maxElapsed: maxElapsed, clock: clock) {
                calls += 1
                if callTakes > .zero { try await clock.sleep(for: callTakes) }
                throw Transient(id: calls)
            }
        }
        return (error, calls, start.duration(to: clock.now))
    }

    @Test("no backoff is started that would end past maxElapsed: calls at 0, 1, 3, 7 s, then the 8 s wait is not")
    func deadline() async throws {
        let (error, calls, elapsed) = try await Self.alwaysFailing(maxElapsed: .seconds(10), backoff: Self.backoff())
        #expect(error?.reason == .deadline && error?.attempts == 4 && calls == 4)
        #expect(error?.lastError as? Transient == Transient(id: 4))
        #expect(elapsed == .seconds(7))
    }

    @Test("a backoff that ends exactly at maxElapsed is waited; one that ends a nanosecond later is not")
    func boundary() async throws {
        let exact = try await Self.alwaysFailing(maxElapsed: .seconds(7), backoff: Self.backoff())
        #expect(exact.error?.reason == .deadline && exact.calls == 4 && exact.elapsed == .seconds(7))
        let short = try await Self.alwaysFailing(maxElapsed: .seconds(7) - .nanoseconds(1), backoff: Self.backoff())
        #expect(short.error?.reason == .deadline && short.calls == 3 && short.elapsed == .seconds(3))
    }

    @Test("the time the calls take counts: measured on the clock from the first call")
    func callsCount() async throws {
        // Calls of 5 s, waits of 1 s: 0–5, 6–11, 12–17; the wait after the third would end at 18 > 12.
        let (error, calls, elapsed) = try await Self.alwaysFailing(
            maxElapsed: .seconds(12), backoff: .constant(.seconds(1)), callTakes: .seconds(5))
        #expect(error?.reason == .deadline && calls == 3 && elapsed == .seconds(17))
    }

    @Test("maxAttempts still ends it first when it comes first, and a huge maxElapsed does not overflow")
    func attemptsFirst() async throws {
        let clock = ImmediateClock()
        let flaky = Flaky((1...10).map { Transient(id: $0) })
        let error = await retryError {
            try await retry(
                backoff: Self.backoff(), maxAttempts: 3, maxElapsed: .seconds(Int64.max), clock: clock
            ) { try flaky.call() }
        }
        #expect(error?.reason == .attemptsExhausted && flaky.calls == 3)
    }

    @Test("maxElapsed of zero or less is a configuration error, and the operation is not called")
    func invalid() async {
        for maxElapsed in [Duration.zero, .nanoseconds(-1), .seconds(Int64.min)] {
            var calls = 0
            let error = await #expect(throws: ConfigurationError.self) {
                try await retry(maxElapsed: maxElapsed, clock: ImmediateClock()) {
                    calls += 1
                    return 1
                }
            }
            #expect(error?.option == "maxElapsed" && error?.code == .outOfRange && calls == 0)
        }
    }
}
