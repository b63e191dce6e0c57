import Clocks
import Logging
import Metrics
import Supervisor
import SupervisorTestKit

/// What every runner test builds: a scripted resource on a test clock, its supervisor, and a recorder of events.
struct SupervisorHarness {
    let clock: TestClock<Duration>
    let resource: ScriptedResource
    let supervisor: ResourceSupervisor<ScriptedResource>
    let recorder: EventRecorder

    init(
        _ script: [ScriptedResource.Step],
        policy: RestartPolicy,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        clock = TestClock()
        resource = ScriptedResource(clock: clock, script: script)
        if let metricsFactory {
            supervisor = ResourceSupervisor(
                resource,
                name: "test",
                policy: policy,
                clock: clock,
                generator: { SplitMix64(seed: 1) },
                logger: logger,
                metricsFactory: metricsFactory
            )
        } else {
            supervisor = ResourceSupervisor(
                resource,
                name: "test",
                policy: policy,
                clock: clock,
                generator: { SplitMix64(seed: 1) },
                logger: logger
            )
        }
        recorder = EventRecorder(supervisor)
    }

    /// The next event for which `predicate` holds; `nil` when the supervisor stopped first.
    ///
    /// While it waits, it keeps advancing the test clock by zero. A timer that registers with `TestClock` only after
    /// the test advanced the clock exactly to its deadline is otherwise never fired (TestClock resumes a sleep at
    /// `deadline <= now` only during an `advance`), and under a loaded machine the timer task may well register late.
    /// Advancing by zero fires only what is already due, so virtual time stays exactly where the test put it.
    func next(where predicate: @escaping @Sendable (SupervisorEvent) -> Bool) async -> SupervisorEvent? {
        enum Outcome: Sendable {
            case event(SupervisorEvent?)
            case nudgerDone
        }
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask { .event(await recorder.next(where: predicate)) }
            group.addTask {
                for _ in 0..<1_000_000 where !Task.isCancelled {
                    await clock.advance(by: .zero)
                    await Task.yield()
                }
                return .nudgerDone
            }
            defer { group.cancelAll() }
            while let outcome = await group.next() {
                if case .event(let event) = outcome { return event }
            }
            return nil
        }
    }

    /// The next backoff's delay and deadline.
    func nextBackoff() async -> (delay: Duration, until: Duration)? {
        let event = await next { if case .backingOff = $0 { true } else { false } }
        guard case .backingOff(let delay, let until, _)? = event else { return nil }
        return (delay, until)
    }

    /// Waits until the resource is ready again; false when the supervisor stopped first.
    func nextReady() async -> Bool {
        await next { if case .ready = $0 { true } else { false } } != nil
    }
}
