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
        await WakeSpreadTests.settle { starts.count.load(ordering: .relaxed) }
        // A few virtual milliseconds: nowhere near the hour.
        for _ in 0..<10 {
            clock.advance(by: .milliseconds(10))
            await WakeSpreadTests.settle { starts.count.load(ordering: .relaxed) }
        }
        let count = starts.count.load(ordering: .relaxed)
        #expect(count == 2, "the wake-up while the failure was logged ended the hour-long backoff")
        task.cancel()
        _ = try? await task.value
    }
}
