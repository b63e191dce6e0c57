public import Logging
public import Metrics
public import ServiceLifecycle
import Synchronization

/// Keeps a ``Restartable`` resource alive: starts it, serves with it, and when it fails, classifies the failure,
/// backs off and starts it again, until it is told to stop or gives up.
///
/// A swift-service-lifecycle `Service`: run it in a `ServiceGroup`, and a graceful shutdown or the cancellation of
/// its task stops it promptly, even in the middle of a long backoff.
///
/// ```swift
/// let supervisor = ResourceSupervisor(
///     UDPReceiver(port: 9000),
///     name: "ingest",
///     policy: try RestartPolicy(backoff: .exponential(maximum: .seconds(30)).jitter(.full)),
///     logger: logger
/// )
/// let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// Guarantees:
/// - `stop(_:)` is called exactly once for every instance that `start()` returned, before any other start.
/// - Once stopping began (cancellation or graceful shutdown), `start()` is never called again.
/// - `run()` returns normally when asked to stop or when the classifier decides ``FailureDecision/stop``, and
///   throws ``SupervisorError`` when it gives up.
///
/// Named `ResourceSupervisor` rather than `Supervisor` so that the module name stays usable for qualified names
/// (`Supervisor.Backoff` would otherwise look inside the type).
public final class ResourceSupervisor<Resource: Restartable>: Service, Sendable {
    /// Identifies this supervisor in logs, metrics and errors.
    public let name: String
    /// The supervised resource.
    public let resource: Resource
    /// The policy every decision follows.
    public let policy: RestartPolicy

    private let clock: any Clock<Duration>
    private let makeGenerator: @Sendable () -> any RandomNumberGenerator
    private let logger: Logger
    private let metrics: SupervisorMetrics
    private let shared = Mutex(Shared())

    /// The mutable part, behind one lock: observed state, the wake-up of a pending backoff, event subscribers.
    private struct Shared: ~Copyable {
        var state: SupervisorState = .idle
        var hasRun = false
        var wake: WakeState = .idle
        var subscribers: [Int: AsyncStream<SupervisorEvent>.Continuation] = [:]
        var nextSubscriber = 0
        var finalReason: SupervisorStopReason?
    }

    /// Where a backoff's wake-up stands; only `armed`, `waiting` and `woken` occur while backing off.
    private enum WakeState {
        case idle
        case armed
        case waiting(CheckedContinuation<Void, Never>)
        case woken
    }

    /// Creates a supervisor; nothing runs until ``run()``.
    ///
    /// - Parameters:
    ///   - resource: what to keep alive.
    ///   - name: identifies the supervisor in logs (`supervisor` metadata), metrics (`name` dimension) and errors.
    ///   - policy: backoff, classification, intensity, budgets.
    ///   - clock: the clock backoffs sleep on; tests pass a `TestClock` or an `ImmediateClock`.
    ///   - generator: makes the random number generator of one run (pass a seeded one for reproducible runs).
    ///   - logger: where events are logged.
    ///   - metricsFactory: where metrics are recorded; the process-wide `MetricsSystem.factory` by default.
    public init(
        _ resource: Resource,
        name: String,
        policy: RestartPolicy = .default,
        clock: any Clock<Duration> = ContinuousClock(),
        generator: @escaping @Sendable () -> any RandomNumberGenerator = { SystemRandomNumberGenerator() },
        logger: Logger = Logger(label: "supervisor"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.resource = resource
        self.name = name
        self.policy = policy
        self.clock = clock
        self.makeGenerator = generator
        var logger = logger
        logger[metadataKey: "supervisor"] = "\(name)"
        self.logger = logger
        self.metrics = SupervisorMetrics(name: name, factory: metricsFactory)
        metrics.stateChanged(from: "", to: "idle")
    }

    /// What the resource is doing now.
    public var state: SupervisorState {
        shared.withLock { $0.state }
    }

    /// The events from now on, ending with ``SupervisorEvent/stopped(_:)``. A stream requested after the supervisor
    /// stopped yields that last event only. Each call makes an independent subscription.
    public func events(
        bufferingPolicy: AsyncStream<SupervisorEvent>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<SupervisorEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SupervisorEvent.self, bufferingPolicy: bufferingPolicy)
        let finalReason = shared.withLock { shared -> SupervisorStopReason? in
            if let reason = shared.finalReason { return reason }
            let id = shared.nextSubscriber
            shared.nextSubscriber += 1
            shared.subscribers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                _ = self?.shared.withLock { $0.subscribers.removeValue(forKey: id) }
            }
            return nil
        }
        if let finalReason {
            continuation.yield(.stopped(finalReason))
            continuation.finish()
        }
        return stream
    }

    /// Cuts a pending backoff short: the next attempt starts now. Idempotent, and harmless when the supervisor is
    /// not backing off (it does nothing then). Network-change monitors and operators call it.
    public func wake() {
        let waiter = shared.withLock { shared -> CheckedContinuation<Void, Never>? in
            switch shared.wake {
            case .armed:
                shared.wake = .woken
                return nil
            case .waiting(let continuation):
                shared.wake = .woken
                return continuation
            case .idle, .woken:
                return nil
            }
        }
        waiter?.resume()
    }

    /// Supervises the resource until shutdown (returns), a stop decision (returns), or giving up (throws
    /// ``SupervisorError``). A supervisor runs once; a second call throws ``ConfigurationError``.
    public func run() async throws {
        let firstRun = shared.withLock { shared in
            defer { shared.hasRun = true }
            return !shared.hasRun
        }
        guard firstRun else {
            throw ConfigurationError(.inconsistent, option: "run()", "supervisor \(name) has already run")
        }
        let reason = await cancelWhenGracefulShutdown { await self.supervise() }
        if case .gaveUp(let error) = reason { throw error }
    }

    // MARK: - The loop: carry out what the state machine decides

    private func supervise() async -> SupervisorStopReason {
        let timeline = Timeline(clock)
        var machine = SupervisorStateMachine(policy: policy, name: name, generator: makeGenerator())
        var attempt = machine.begin()
        while true {
            if Task.isCancelled { return finish(machine.shutdown()) }
            publish(.starting(attempt: attempt), state: .starting(attempt: attempt))
            let outcome: (SupervisorFailure, SupervisorStateMachine.Next)
            do {
                let instance = try await resource.start()
                if Task.isCancelled {
                    await resource.stop(instance)
                    return finish(machine.shutdown())
                }
                if let streak = machine.startSucceeded(at: timeline.now()) {
                    metrics.timeToRecover.record(duration: streak)
                }
                publish(.ready(attempt: attempt), state: .ready)
                var runError: (any Error)?
                do {
                    try await resource.run(instance)
                } catch {
                    runError = error
                }
                await resource.stop(instance)
                // The resource's error during a shutdown is the shutdown itself, not a failure.
                if Task.isCancelled { return finish(machine.shutdown()) }
                outcome = machine.runEnded(runError, at: timeline.now())
            } catch {
                if Task.isCancelled { return finish(machine.shutdown()) }
                outcome = machine.startFailed(error, at: timeline.now())
            }

            let (failure, next) = outcome
            switch next {
            case .finish(let reason):
                if case .completed = reason {} else { publish(.failed(failure), state: nil) }
                return finish(reason)
            case .restart(let delay, let until, let nextAttempt, let enteredDegraded):
                publish(.failed(failure), state: nil)
                metrics.restarts.increment()
                if enteredDegraded, let probeInterval = policy.escalation.probeInterval {
                    publish(.degraded(probeInterval: probeInterval), state: .degraded(until: until))
                }
                let state: SupervisorState =
                    machine.isDegraded ? .degraded(until: until) : .backingOff(delay: delay, until: until)
                publish(.backingOff(delay: delay, until: until, attempt: nextAttempt), state: state)
                if delay > .zero {
                    await waitOut(until, tolerance: policy.timerTolerance.tolerance(for: delay), on: timeline)
                }
                attempt = machine.backoffEnded()
            }
        }
    }

    /// Sleeps until `deadline` unless ``wake()`` or cancellation comes first.
    private func waitOut(_ deadline: Duration, tolerance: Duration?, on timeline: Timeline) async {
        shared.withLock { $0.wake = .armed }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await timeline.sleep(deadline, tolerance) }
            group.addTask { await self.waitForWake() }
            await group.next()
            group.cancelAll()
        }
        // Both children have finished here (the group awaited them), so no continuation is left behind.
        shared.withLock { $0.wake = .idle }
    }

    private func waitForWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = shared.withLock { shared -> Bool in
                    guard case .armed = shared.wake else { return true }  // woken already, or cancelled
                    shared.wake = .waiting(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = shared.withLock { shared -> CheckedContinuation<Void, Never>? in
                switch shared.wake {
                case .waiting(let continuation):
                    shared.wake = .woken
                    return continuation
                case .armed:
                    shared.wake = .woken  // cancelled before waiting: the wait must not begin
                    return nil
                case .idle, .woken:
                    return nil
                }
            }
            waiter?.resume()
        }
    }

    // MARK: - Reporting: state, events, logs, metrics

    private func publish(_ event: SupervisorEvent, state newState: SupervisorState?) {
        let oldLabel = shared.withLock { shared -> String in
            let old = shared.state.label
            if let newState { shared.state = newState }
            for continuation in shared.subscribers.values { continuation.yield(event) }
            return old
        }
        if let newState { metrics.stateChanged(from: oldLabel, to: newState.label) }
        log(event)
    }

    private func finish(_ reason: SupervisorStopReason) -> SupervisorStopReason {
        publish(.stopped(reason), state: .stopped(reason))
        let subscribers = shared.withLock { shared in
            shared.finalReason = reason
            defer { shared.subscribers.removeAll() }
            return Array(shared.subscribers.values)
        }
        for continuation in subscribers { continuation.finish() }
        return reason
    }

    private func log(_ event: SupervisorEvent) {
        switch event {
        case .starting(let attempt):
            logger.debug("starting", metadata: ["attempt": "\(attempt)"])
        case .ready(let attempt):
            logger.info("ready", metadata: ["attempt": "\(attempt)"])
        case .failed(let failure):
            metrics.failed(failure)
            logger.warning(
                "failed",
                metadata: [
                    "phase": "\(failure.phase)", "error": "\(failure.error)", "decision": "\(failure.decision)",
                    "failures": "\(failure.failures)",
                ]
            )
        case .backingOff(let delay, _, let attempt):
            logger.info("backing off", metadata: ["delay": "\(delay)", "attempt": "\(attempt)"])
        case .degraded(let probeInterval):
            logger.error("restart intensity exceeded, degraded", metadata: ["probe-interval": "\(probeInterval)"])
        case .stopped(let reason):
            if case .gaveUp = reason {
                logger.error("gave up", metadata: ["reason": "\(reason)"])
            } else {
                logger.info("stopped", metadata: ["reason": "\(reason)"])
            }
        }
    }
}
