import Clocks
import Logging
import Supervisor
import SupervisorTestKit
import Testing

/// `retry` calls drawing on a budget, alone and beside a supervisor.
@Suite("Restart budget: retry", .timeLimit(.minutes(1)))
struct RestartBudgetRetryTests {
    @Test("a retry the budget cannot pay waits for its tokens; a success refills the budget")
    func retryWaits() async throws {
        let clock = ImmediateClock()
        let start = clock.now
        let budget = try RestartBudget(capacity: 2, successRefill: 1, refillPerSecond: 0.5, clock: clock)
        let flaky = Flaky((1...4).map { Transient(id: $0) })
        var delays: [Duration] = []
        let value = try await retry(
            backoff: .constant(.milliseconds(100)), maxAttempts: 10, budget: budget, clock: clock
        ) {
            try flaky.call()
        } onRetry: {
            delays.append($0.delay)
        }
        #expect(value == 5)
        // Two tokens, then 0.9 tokens to wait for at 0.2 s (1.8 s), then a whole one (2 s).
        #expect(delays == [.milliseconds(100), .milliseconds(100), .milliseconds(1_800), .seconds(2)])
        #expect(start.duration(to: clock.now) == .seconds(4))
        // Paid back by then, plus the success.
        #expect(budget.tokens == 1)
    }

    @Test("escalating: calls sharing a budget stop retrying once it is empty, with budgetExhausted")
    func retryEscalates() async throws {
        let budget = try RestartBudget(
            capacity: 2, refillPerSecond: 0, whenExhausted: .escalate, clock: ImmediateClock())
        let first = await retryError {
            try await retry(maxAttempts: 10, budget: budget, clock: ImmediateClock()) { throw Transient() }
        }
        #expect(first?.reason == .budgetExhausted && first?.attempts == 3)
        let second = await retryError {
            try await retry(maxAttempts: 10, budget: budget, clock: ImmediateClock()) { throw Transient() }
        }
        #expect(second?.reason == .budgetExhausted && second?.attempts == 1)
    }

    @Test("cancellation while a retry waits for tokens ends it at once and gives the tokens back")
    func retryCancelledWhileWaiting() async throws {
        let clock = TestClock()
        let budget = try RestartBudget(capacity: 1, refillPerSecond: 1.0 / 3_600, clock: clock)
        _ = budget.withdraw()
        let (retrying, entered) = AsyncStream.makeStream(of: RetryAttempt.self)
        let task = Task {
            try await retry(backoff: .constant(.milliseconds(1)), budget: budget, clock: clock) {
                () async throws -> Int in
                throw Transient()
            } onRetry: {
                entered.yield($0)
            }
        }
        var attempts = retrying.makeAsyncIterator()
        #expect(await attempts.next()?.delay == .seconds(3_600))
        #expect(budget.tokens == -1)
        task.cancel()
        let thrown = await retryError { try await task.value }
        #expect(thrown?.reason == .cancelled && budget.tokens == 0)
    }

    @Test("a supervisor and retry calls share one budget: restarts empty it for both, successes refill it for both")
    func supervisorAndRetryShare() async throws {
        let clock = TestClock()
        let budget = try RestartBudget(
            capacity: 2, successRefill: 0.25, refillPerSecond: 0, whenExhausted: .escalate, clock: clock)
        let policy = try RestartPolicy(backoff: .constant(.milliseconds(100)), budget: budget, stopTimeout: nil)
        let resource = ScriptedResource(clock: clock, script: [.failStart(Transient()), .failStart(Transient())])
        let supervisor = ResourceSupervisor(
            resource, name: "test", policy: policy, clock: clock,
            logger: Logger(label: "budget", factory: { _ in SwiftLogNoOpLogHandler() }))
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        for _ in 0..<2 {
            _ = await recorder.next(advancing: clock) { if case .backingOff = $0 { true } else { false } }
            await clock.advance(by: .milliseconds(100))
        }
        #expect(await recorder.next(advancing: clock) { if case .ready = $0 { true } else { false } } != nil)
        // The supervisor's two restarts took both tokens; its ready gave 0.25 back.
        let refused = await retryError {
            try await retry(budget: budget, clock: clock) { throw Transient() }
        }
        #expect(refused?.reason == .budgetExhausted && refused?.attempts == 1)
        // Three successful calls and the ready make one token: the next failing call gets one retry.
        for _ in 0..<3 { _ = try await retry(budget: budget, clock: clock) { 1 } }
        let flaky = Flaky([Transient()])
        let retried = try await retry(backoff: .constant(.zero), budget: budget, clock: clock) { try flaky.call() }
        #expect(retried == 2)
        task.cancel()
        try await task.value
    }
}
