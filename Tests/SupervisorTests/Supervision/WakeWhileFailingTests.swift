import Logging
import Supervisor
import Synchronization
import Testing

/// A wake-up that arrives after `start()` has failed but before the backoff after it is armed (while the failure is
/// published: events, metrics, a log line written to a slow terminal) is remembered like one during the start: the
/// backoff ends at once. The test places the wake-up there deterministically, from the log handler that writes the
/// failure; any other thread can land in the same window. Under virtual time (a `ManualClock`).
@Suite("A wake-up while a failure is published")
struct WakeWhileFailingTests {
    /// A log handler that runs `onFailed` when it writes the supervisor's `failed` line.
    struct CallingLogHandler: LogHandler {
        let onFailed: @Sendable () -> Void
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            if event.message == "failed" { onFailed() }
        }
    }

    /// A resource whose first start fails (or, with `failingRun`, whose first run fails at once); later starts count
    /// and serve.
    final class Starts: Sendable {
        let count = Atomic(0)
    }

    static func resource(starts: Starts, failingRun: Bool) -> RestartableResource<Int> {
        RestartableResource<Int>(
            start: {
                if starts.count.add(1, ordering: .relaxed).newValue == 1, !failingRun { throw Transient() }
                return 1
            },
            run: { _ in
                if failingRun, starts.count.load(ordering: .relaxed) == 1 { throw Transient() }
                try await Task.sleep(for: .seconds(3_600))
            })
    }

    /// Waits until `progress` reaches `starts`, at most 120 s of real time, while the virtual clock keeps moving: by
    /// 10 ms a step over its first 10 s (the floor after a wake-up, if any), then by 1 s a step up to 10 minutes, a
    /// sixth of the hour-long backoff. A loaded pool may run the supervisor's task seconds late, after any fixed
    /// number of steps; a clock that stopped then would strand its floor, while one that went past the hour would
    /// hide a lost wake-up. Returns the virtual and the real time it took, for a failure's message.
    @discardableResult
    static func waitFor(starts: Int, clock: ManualClock, _ progress: () -> Int) async -> (
        virtual: Duration, real: Duration
    ) {
        let origin = clock.now
        let began = ContinuousClock.now
        // Far beyond the milliseconds it takes: with the whole suite running in parallel and a core kept busy, every
        // settling round waits behind thousands of other tests' tasks.
        let deadline = ContinuousClock.now + .seconds(120)
        for _ in 0..<50_000 where progress() < starts && ContinuousClock.now < deadline {
            let elapsed = origin.duration(to: clock.now)
            if elapsed < .seconds(10) {
                clock.advance(by: .milliseconds(10))
            } else if elapsed < .seconds(600) {
                clock.advance(by: .seconds(1))
            }
            await WakeSpreadTests.settle(progress)
            try? await Task.sleep(for: .milliseconds(5))
        }
        return (origin.duration(to: clock.now), ContinuousClock.now - began)
    }

    /// Waits until `condition` holds, at most 20 s of real time; whether it does.
    static func waitUntil(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        for _ in 0..<10_000 where !condition() && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    @Test(
        "a wake-up between a failure (of a start, or of a run and its stop) and its backoff ends that backoff",
        arguments: [false, true])
    func wakeWhileFailureIsPublished(failingRun: Bool) async throws {
        let clock = ManualClock()
        let starts = Starts()
        let target = Mutex<ResourceSupervisor<RestartableResource<Int>>?>(nil)
        let logger = Logger(
            label: "failing",
            factory: { _ in
                CallingLogHandler(onFailed: { target.withLock { $0 }?.wake(spread: .zero) })
            })
        let supervisor = ResourceSupervisor(
            Self.resource(starts: starts, failingRun: failingRun), name: "failing",
            policy: try RestartPolicy(
                backoff: .constant(.seconds(3_600)), minimumRestartDelay: .zero,
                stopTimeout: failingRun ? .seconds(10) : nil),
            clock: clock, generator: { SplitMix64(seed: 3) }, logger: logger)
        target.withLock { $0 = supervisor }
        let task = Task { try await supervisor.run() }
        await Self.waitFor(starts: 2, clock: clock) { starts.count.load(ordering: .relaxed) }
        let count = starts.count.load(ordering: .relaxed)
        #expect(count == 2, "the wake-up while the failure was logged ended the hour-long backoff")
        task.cancel()
        _ = try? await task.value
    }
}

/// A wake-up during the stop after a failed run is remembered whether or not the policy bounds the stop with a
/// timeout: the backoff after the stop ends at once. Under virtual time (a `ManualClock`).
@Suite("A wake-up during a stop")
struct WakeDuringStopTests {
    /// A resource whose first run fails at once and whose first stop waits for the test's word; later starts count
    /// and serve.
    final class HeldStop: Sendable {
        let starts = Atomic(0)
        let entered = Atomic(false)
        private let held = Mutex<CheckedContinuation<Void, Never>?>(nil)

        var resource: RestartableResource<Int> {
            RestartableResource<Int>(
                start: { [self] in
                    starts.add(1, ordering: .relaxed)
                    return 1
                },
                run: { [self] _ in
                    if starts.load(ordering: .relaxed) == 1 { throw Transient() }
                    try await Task.sleep(for: .seconds(3_600))
                },
                stop: { [self] _ in
                    guard starts.load(ordering: .relaxed) == 1 else { return }
                    await withCheckedContinuation { continuation in
                        held.withLock { $0 = continuation }
                        entered.store(true, ordering: .releasing)
                    }
                })
        }

        /// Lets the held stop return.
        func release() {
            held.withLock { held in
                held?.resume()
                held = nil
            }
        }
    }

    @Test(
        "woken during the stop after a failed run, the supervisor starts again without waiting out the backoff",
        arguments: [nil, Duration.seconds(10)])
    func wakeDuringStopEndsTheNextBackoff(stopTimeout: Duration?) async throws {
        let clock = ManualClock()
        let held = HeldStop()
        let supervisor = ResourceSupervisor(
            held.resource, name: "stopping",
            policy: try RestartPolicy(
                backoff: .constant(.seconds(3_600)), minimumRestartDelay: .zero, stopTimeout: stopTimeout),
            clock: clock, generator: { SplitMix64(seed: 4) }, logger: WakeSpreadTests.quiet)
        let task = Task { try await supervisor.run() }
        let entered = await WakeWhileFailingTests.waitUntil { held.entered.load(ordering: .acquiring) }
        try #require(entered, "the first stop is in progress")
        supervisor.wake(spread: .zero)
        held.release()
        await WakeWhileFailingTests.waitFor(starts: 2, clock: clock) { held.starts.load(ordering: .relaxed) }
        let starts = held.starts.load(ordering: .relaxed)
        #expect(starts == 2, "the wake-up during the stop ended the hour-long backoff after it")
        task.cancel()
        _ = try? await task.value
    }
}
