import Clocks
import InMemoryLogging
import Logging
import Supervisor
import SupervisorTestKit
import Testing

@Suite("One-shot retry")
struct RetryTests {
    static func backoff() throws -> Backoff {
        try .exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(60))
    }

    @Test("transient failures are retried after the schedule's delays until the operation succeeds")
    func retriesUntilSuccess() async throws {
        let clock = ImmediateClock()
        let start = clock.now
        let flaky = Flaky([Transient(), Transient(), Transient()])
        let value = try await retry(backoff: Self.backoff(), clock: clock) { try flaky.call() }
        #expect(value == 4 && flaky.calls == 4)
        #expect(start.duration(to: clock.now) == .seconds(1 + 2 + 4))
    }

    @Test("give-up and stop decisions end at once, after one call, with reason gaveUp and the error")
    func fatalAndStop() async throws {
        for error in [Fatal(), ClosedByUs()] as [any Error] {
            let flaky = Flaky([error])
            let thrown = await retryError {
                try await retry(backoff: Self.backoff(), clock: ImmediateClock()) { try flaky.call() }
            }
            #expect(thrown?.reason == .gaveUp && thrown?.attempts == 1)
            #expect(thrown.map { "\(type(of: $0.lastError))" } == "\(type(of: error))")
            #expect(flaky.calls == 1)
        }
    }

    @Test("after maxAttempts calls the retries end with attemptsExhausted and the last error")
    func attemptsExhausted() async throws {
        let flaky = Flaky((1...10).map { Transient(id: $0) })
        let thrown = await retryError {
            try await retry(backoff: Self.backoff(), maxAttempts: 3, clock: ImmediateClock()) { try flaky.call() }
        }
        #expect(thrown?.reason == .attemptsExhausted && thrown?.attempts == 3)
        #expect(thrown?.lastError as? Transient == Transient(id: 3) && flaky.calls == 3)
        #expect(thrown.map { "\($0)" } == "retry: attempts exhausted after 3 attempt(s); last error: Transient(id: 3)")
    }

    @Test("a backoff that runs out ends the retries with retryLimitReached, whatever maxAttempts says")
    func backoffLimit() async throws {
        for maxAttempts in [10, .max] {
            let flaky = Flaky((1...10).map { Transient(id: $0) })
            let thrown = await retryError {
                try await retry(
                    backoff: Self.backoff().limited(toRetries: 1), maxAttempts: maxAttempts, clock: ImmediateClock()
                ) { try flaky.call() }
            }
            #expect(thrown?.reason == .retryLimitReached && thrown?.attempts == 2)
            #expect(thrown?.lastError as? Transient == Transient(id: 2) && flaky.calls == 2)
        }
    }

    @Test("a restart-after hint is a floor: a longer hint is waited, a shorter one the schedule's delay")
    func hintIsAFloor() async throws {
        let clock = ImmediateClock()
        let start = clock.now
        // Schedule 1 s, 2 s, 4 s: the hints are 30 s (waited), 100 ms (below 2 s), then beyond the longest delay.
        let flaky = Flaky([
            Throttled(retryAfter: .seconds(30)), Throttled(retryAfter: .milliseconds(100)),
            Throttled(retryAfter: .seconds(Int64.max)),
        ])
        var delays: [Duration] = []
        _ = try await retry(backoff: Self.backoff(), clock: clock) {
            try flaky.call()
        } onRetry: {
            delays.append($0.delay)
        }
        #expect(delays == [.seconds(30), .seconds(2), Backoff.longestDelay])
        #expect(start.duration(to: clock.now) == .seconds(32) + Backoff.longestDelay)
    }

    @Test("a custom classifier decides, and each retry is logged")
    func classifierAndLogs() async throws {
        let handler = InMemoryLogHandler()
        let flaky = Flaky([Transient(id: 1), Transient(id: 2)])
        let thrown = await retryError {
            try await retry(
                backoff: Self.backoff(),
                classifier: .type(Transient.self) { $0.id >= 2 ? .giveUp : nil }.orElse(.default),
                clock: ImmediateClock(),
                logger: Logger(label: "retry", factory: { _ in handler })
            ) { try flaky.call() }
        }
        #expect(thrown?.reason == .gaveUp && thrown?.lastError as? Transient == Transient(id: 2))
        #expect(flaky.calls == 2)
        #expect(handler.entries.map { "\($0.message)" } == ["retrying"])
        #expect(handler.entries.first?.metadata["delay"] == "1.0 seconds")
    }

    @Test("maxAttempts below 1 is a configuration error, and the operation is not called")
    func invalidAttempts() async {
        for maxAttempts in [0, -1, .min] {
            var calls = 0
            let error = await #expect(throws: ConfigurationError.self) {
                try await retry(maxAttempts: maxAttempts) {
                    calls += 1
                    return 1
                }
            }
            #expect(error?.option == "maxAttempts" && error?.code == .outOfRange && calls == 0)
        }
    }
}
