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

    /// The next event for which `predicate` holds; `nil` when the supervisor stopped first. Keeps the test clock
    /// firing what is due while it waits (see `EventRecorder.next(advancing:where:)`).
    func next(where predicate: @escaping @Sendable (SupervisorEvent) -> Bool) async -> SupervisorEvent? {
        await recorder.next(advancing: clock, where: predicate)
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
