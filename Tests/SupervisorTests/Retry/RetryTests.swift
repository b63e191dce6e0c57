import Clocks
import InMemoryLogging
import Logging
import Supervisor
import Testing

/// Counts calls and fails the first `failures` of them with the given errors.
private final class Flaky: @unchecked Sendable {
    // Only touched from the test's own task: `retry` calls the operation in the caller's isolation.
    var calls = 0
    let errors: [any Error]

    init(_ errors: [any Error]) {
        self.errors = errors
    }

    func call() throws -> Int {
        calls += 1
        if calls <= errors.count { throw errors[calls - 1] }
        return calls
    }
}

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

    @Test("fatal and stop decisions rethrow at once, after one call")
    func fatalAndStopRethrow() async throws {
        for error in [Fatal(), ClosedByUs()] as [any Error] {
            let flaky = Flaky([error])
            do {
                _ = try await retry(backoff: Self.backoff(), clock: ImmediateClock()) { try flaky.call() }
                Issue.record("\(error) was retried to success")
            } catch let thrown {
                #expect(String(describing: type(of: thrown)) == String(describing: type(of: error)))
            }
            #expect(flaky.calls == 1)
        }
    }

    @Test("a CancellationError of the operation's own, the caller not cancelled, is retried by the default classifier")
    func operationsOwnCancellationIsRetried() async throws {
        let clock = ImmediateClock()
        let start = clock.now
        let flaky = Flaky([CancellationError(), CancellationError()])
        let value = try await retry(backoff: Self.backoff(), clock: clock) { try flaky.call() }
        #expect(value == 3 && flaky.calls == 3)
        #expect(start.duration(to: clock.now) == .seconds(1 + 2))
    }

    @Test("after maxAttempts calls the last error is rethrown as it is")
    func attemptsExhausted() async throws {
        let flaky = Flaky((1...10).map { Transient(id: $0) })
        let error = await #expect(throws: Transient.self) {
            try await retry(backoff: Self.backoff(), maxAttempts: 3, clock: ImmediateClock()) { try flaky.call() }
        }
        #expect(error == Transient(id: 3) && flaky.calls == 3)
    }

    @Test("a backoff that runs out ends the retries too")
    func backoffLimit() async throws {
        let flaky = Flaky((1...10).map { Transient(id: $0) })
        await #expect(throws: Transient.self) {
            try await retry(backoff: Self.backoff().limited(toAttempts: 1), maxAttempts: 10, clock: ImmediateClock()) {
                try flaky.call()
            }
        }
        #expect(flaky.calls == 2)
    }

    @Test("a restart-after hint replaces the delay")
    func hint() async throws {
        let clock = ImmediateClock()
        let start = clock.now
        let flaky = Flaky([Throttled(retryAfter: .seconds(30))])
        _ = try await retry(backoff: Self.backoff(), clock: clock) { try flaky.call() }
        #expect(start.duration(to: clock.now) == .seconds(30))
    }

    @Test("cancellation during a long backoff throws CancellationError without waiting")
    func cancellation() async throws {
        let clock = TestClock()
        let task = Task {
            try await retry(backoff: .constant(.seconds(3_600)), clock: clock) { () async throws -> Int in
                throw Transient()
            }
        }
        await clock.advance(by: .seconds(1))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("a custom classifier decides, and each retry is logged")
    func classifierAndLogs() async throws {
        let handler = InMemoryLogHandler()
        let flaky = Flaky([Transient(id: 1), Transient(id: 2)])
        await #expect(throws: Transient.self) {
            try await retry(
                backoff: Self.backoff(),
                classifier: .type(Transient.self) { $0.id >= 2 ? .giveUp : nil }.orElse(.default),
                clock: ImmediateClock(),
                logger: Logger(label: "retry", factory: { _ in handler })
            ) { try flaky.call() }
        }
        #expect(flaky.calls == 2)
        #expect(handler.entries.map { "\($0.message)" } == ["retrying"])
        #expect(handler.entries.first?.metadata["delay"] == "1.0 seconds")
    }

    @Test("maxAttempts below 1 is a configuration error")
    func invalidAttempts() async {
        await #expect(throws: ConfigurationError.self) { try await retry(maxAttempts: 0) { 1 } }
    }
}
