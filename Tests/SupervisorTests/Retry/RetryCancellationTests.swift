import Clocks
import Supervisor
import Testing

/// Cancels the task that calls it.
private func cancelCurrentTask() {
    withUnsafeCurrentTask { $0?.cancel() }
}

@Suite("One-shot retry: cancellation")
struct RetryCancellationTests {
    static func backoff() throws -> Backoff {
        try .exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(60))
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

    @Test("a classifier without the default has no opinion on CancellationError: it is retried too")
    func customClassifierWithoutDefault() async throws {
        let flaky = Flaky([CancellationError(), Fatal()])
        let thrown = await retryError {
            try await retry(
                backoff: Self.backoff(),
                classifier: .firstMatch([.type(Fatal.self, .giveUp), .type(Transient.self, .restart)]),
                clock: ImmediateClock()
            ) { try flaky.call() }
        }
        #expect(thrown?.reason == .gaveUp && thrown?.lastError is Fatal && flaky.calls == 2)
    }

    @Test("a classifier that asks for .cancellation explicitly ends at the operation's CancellationError")
    func explicitCancellationClassifier() async throws {
        let flaky = Flaky([CancellationError()])
        let thrown = await retryError {
            try await retry(
                backoff: Self.backoff(),
                classifier: .firstMatch([.cancellation, .default]),
                clock: ImmediateClock()
            ) { try flaky.call() }
        }
        #expect(thrown?.reason == .gaveUp && thrown?.lastError is CancellationError && flaky.calls == 1)
    }

    @Test("the caller's cancellation ends it after the failing call, whatever the error and the classifier say")
    func callersCancellationDuringCall() async throws {
        let errors: [any Error] = [CancellationError(), Transient(id: 7)]
        let classifiers: [FailureClassifier] = [.always(.restart), .always(.giveUp), .always(.stop), .default]
        for failure in errors {
            for (index, classifier) in classifiers.enumerated() {
                let task = Task { () -> (RetryError?, calls: Int) in
                    var calls = 0
                    let thrown = await retryError {
                        try await retry(backoff: Self.backoff(), classifier: classifier, clock: ImmediateClock()) {
                            calls += 1
                            cancelCurrentTask()
                            throw failure
                        }
                    }
                    return (thrown, calls)
                }
                let (thrown, calls) = await task.value
                #expect(thrown?.reason == .cancelled, "\(failure), classifier \(index)")
                #expect(thrown?.attempts == 1 && calls == 1)
                #expect(thrown.map { "\($0.lastError)" } == "\(failure)")
            }
        }
    }

    @Test("cancellation during a long backoff ends it without waiting, with reason cancelled and the last failure")
    func cancellationDuringBackoff() async throws {
        let clock = TestClock()
        let start = clock.now
        let (backingOff, entered) = AsyncStream.makeStream(of: RetryAttempt.self)
        let task = Task {
            try await retry(
                backoff: .constant(.seconds(3_600)),
                clock: clock
            ) { () async throws -> Int in
                throw Transient(id: 1)
            } onRetry: {
                entered.yield($0)
            }
        }
        // Wait until the first failure is backing off, then cancel; the clock never moves.
        var failed = backingOff.makeAsyncIterator()
        let attempt = await failed.next()
        #expect(attempt?.attempt == 1 && attempt?.delay == .seconds(3_600))
        task.cancel()
        let thrown = await retryError { try await task.value }
        #expect(thrown?.reason == .cancelled && thrown?.attempts == 1)
        #expect(thrown?.lastError as? Transient == Transient(id: 1))
        #expect(clock.now == start)
    }

    @Test("a task cancelled before the first call gets a plain CancellationError, and the operation is not called")
    func cancelledBeforeTheFirstCall() async throws {
        let task = Task { () -> (thrown: (any Error)?, calls: Int) in
            cancelCurrentTask()
            var calls = 0
            do {
                _ = try await retry(clock: ImmediateClock()) {
                    calls += 1
                    return 1
                }
            } catch {
                return (error, calls)
            }
            return (nil, calls)
        }
        let (thrown, calls) = await task.value
        #expect(thrown is CancellationError && calls == 0)
    }
}
