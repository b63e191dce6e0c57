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

    private let logger: Logger
    /// The logger's level, read once: our copy of the logger cannot change, and asking its handler on every event
    /// costs more than the event.
    private let logLevel: Logger.Level
    private let metrics: SupervisorMetrics?
    /// The one supervision: its state machine, its timeline, and the alarm its task waits on (backoffs, the
    /// running resource, shutdown). Made here, so that the clock and the generator factory need not be kept.
    private let supervision: SupervisionRun
    private let shared = Mutex(SupervisorShared())
    /// Set once by a graceful shutdown; read on every step, so an atomic rather than the lock.
    private let shutdownRequested = Atomic(false)

    /// Creates a supervisor; nothing runs until ``run()``.
    ///
    /// - Parameters:
    ///   - resource: what to keep alive.
    ///   - name: identifies the supervisor in logs (`supervisor` metadata), metrics (`name` dimension) and errors.
    ///   - policy: backoff, classification, intensity, budgets.
    ///   - clock: the clock backoffs sleep on; tests pass a `TestClock` or an `ImmediateClock`.
    ///   - generator: makes the random number generator of the run, called once, here (pass a seeded one for
    ///     reproducible runs).
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
        self.supervision = SupervisionRun(
            machine: SupervisorStateMachine(policy: policy, name: name, generator: generator()),
            timeline: Timeline.of(clock)
        )
        // Not `logger[metadataKey:]`: that copies the logger's storage, 72 bytes for each supervisor; the name goes
        // into each message's metadata instead (see `log(_:)`).
        self.logger = logger
        self.logLevel = logger.logLevel
        self.metrics = SupervisorMetrics.make(name: name, factory: metricsFactory)
        metrics?.stateChanged(from: nil, to: SupervisorState.idle.ordinal)
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
                // Not under our lock from here: a cancelled subscriber's handler runs while the cancelling thread
                // holds that task's lock, and a publish holding our lock may be resuming that very task: each would
                // wait for the other for good (EventSubscriptionRaceTests). Meanwhile a yield to it does nothing.
                guard let self else { return }
                Task.detached { _ = self.shared.withLock { $0.subscribers.removeValue(forKey: id) } }
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
        supervision.ring(.wake)
    }

    /// Supervises the resource until shutdown (returns), a stop decision (returns), or giving up (throws
    /// ``SupervisorError``). A supervisor runs once; a second call throws ``ConfigurationError``.
    ///
    /// Cancellation and graceful shutdown stop it at once while it backs off or runs the resource (the resource's
    /// `run(_:)` is cancelled). A `start()` in progress is left to finish, or is cancelled with the task; the
    /// instance it returns is stopped at once.
    public func run() async throws {
        let firstRun = shared.withLock { shared in
            defer { shared.hasRun = true }
            return !shared.hasRun
        }
        guard firstRun else {
            throw ConfigurationError(.inconsistent, option: "run()", "supervisor \(name) has already run")
        }
        let reason = await withGracefulShutdownHandler {
            await supervise()
        } onGracefulShutdown: {
            self.shutdownRequested.store(true, ordering: .releasing)
            self.supervision.ring(.always)
        }
        if case .gaveUp(let error) = reason { throw error }
    }

    /// Whether supervision must end: the task was cancelled or a graceful shutdown was requested.
    private var isStopping: Bool {
        Task.isCancelled || shutdownRequested.load(ordering: .acquiring)
    }

    // MARK: - The loop: carry out what the state machine decides

    // Every async function below keeps its frame small, and the synchronous work (decisions, events, logs) sits in
    // functions that are never inlined into them: a task's frames come from its task allocator, whose slabs are
    // kept for the task's whole life, so the deepest moment of a cycle sets what a parked supervisor costs.

    @inline(__always)  // into run()'s closure: one frame less in every parked task
    private func supervise() async -> SupervisorStopReason {
        supervision.origin = supervision.timeline.now()
        var attempt = supervision.machine.begin()
        while await self.attempt(attempt) {
            if supervision.backoff.delay > .zero { await waitOut() }
            attempt = supervision.machine.backoffEnded()
        }
        // Set by `finish(_:)`, which every way out of the loop goes through.
        return shared.withLock { $0.finalReason } ?? .requested
    }

    /// One attempt: start, then serve until the instance fails or ends. Returns whether another attempt follows,
    /// after `supervision.backoff`; when not, supervision is over (`finish(_:)` recorded why).
    private func attempt(_ attempt: Int) async -> Bool {
        if isStopping { return finish(supervision.machine.shutdown()) }
        starting(attempt)
        do {
            let instance = try await resource.start()
            return await serveStarted(instance, attempt: attempt)
        } catch {
            return startFailed(error)
        }
    }

    /// A started instance: ready, serve, stop; then what the machine decides.
    private func serveStarted(_ instance: Resource.Instance, attempt: Int) async -> Bool {
        if isStopping {
            await resource.stop(instance)
            return finish(supervision.machine.shutdown())
        }
        becameReady(attempt)
        let runError = await serve(instance)
        await resource.stop(instance)
        return runEnded(runError)
    }

    @inline(never)
    private func starting(_ attempt: Int) {
        publish(.starting(attempt: attempt), state: .starting(attempt: attempt))
    }

    @inline(never)
    private func becameReady(_ attempt: Int) {
        if let streak = supervision.machine.startSucceeded(at: supervision.now()) {
            metrics?.timeToRecover.record(duration: streak)
        }
        publish(.ready(attempt: attempt), state: .ready)
    }

    @inline(never)
    private func startFailed(_ error: any Error) -> Bool {
        // A start that fails because supervision is stopping is the shutdown, not a failure.
        if isStopping { return finish(supervision.machine.shutdown()) }
        return report(supervision.machine.startFailed(error, at: supervision.now()))
    }

    @inline(never)
    private func runEnded(_ error: (any Error)?) -> Bool {
        // The resource's error during a shutdown is the shutdown itself, not a failure.
        if isStopping { return finish(supervision.machine.shutdown()) }
        return report(supervision.machine.runEnded(error, at: supervision.now()))
    }

    /// Publishes a failure and what was decided; returns whether it leads to another attempt (after `supervision.backoff`).
    @inline(never)
    private func report(_ outcome: (SupervisorFailure, SupervisorStateMachine.Next)) -> Bool {
        let (failure, next) = outcome
        switch next {
        case .finish(let reason):
            if case .completed = reason {} else { publish(.failed(failure), state: nil) }
            return finish(reason)
        case .restart(let delay, let until, let nextAttempt, let enteredDegraded):
            metrics?.restarts.increment()
            let state: SupervisorState =
                supervision.machine.isDegraded ? .degraded(until: until) : .backingOff(delay: delay, until: until)
            let backingOff = SupervisorEvent.backingOff(delay: delay, until: until, attempt: nextAttempt)
            if enteredDegraded, let probeInterval = policy.escalation.probeInterval {
                publish(.failed(failure), state: nil)
                publish(.degraded(probeInterval: probeInterval), state: .degraded(until: until))
                publish(backingOff, state: state)
            } else {
                // The common case in one lock: the failure, then the backoff it leads to.
                publish(.failed(failure), then: backingOff, state: state)
            }
            supervision.backoff = PendingBackoff(until: until, delay: delay)
            return true
        }
    }

    /// Runs the resource in a child task, so that a graceful shutdown can cancel it; returns its error, if any.
    private func serve(_ instance: Resource.Instance) async -> (any Error)? {
        _ = supervision.arm(wakeable: false)
        defer { supervision.disarm() }
        return await withTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                defer { self.supervision.ring(.always) }
                do {
                    try await self.resource.run(instance)
                    return nil
                } catch {
                    return error
                }
            }
            // Rung when run() ends, or on shutdown or cancellation, whichever comes first.
            if !isStopping { await supervision.park() }
            if isStopping { group.cancelAll() }
            return await group.next() ?? nil
        }
    }

    /// Waits out `supervision.backoff` unless ``wake()``, a shutdown or cancellation comes first. Costs no task: the deadline
    /// goes to the clock's shared scheduler, which rings the alarm.
    private func waitOut() async {
        let generation = supervision.arm(wakeable: true)
        defer { supervision.disarm() }
        // Checked after arming, so a shutdown requested just before is not missed.
        if isStopping { return }
        let tolerance = policy.timerTolerance.tolerance(for: supervision.backoff.delay)
        let deadline = supervision.origin + supervision.backoff.until
        supervision.timeline.schedule(supervision, generation, deadline, tolerance)
        await supervision.park()
    }

    // MARK: - Reporting: state, events, logs, metrics

    @inline(never)
    private func publish(_ event: SupervisorEvent, state newState: SupervisorState?) {
        let old = shared.withLock { shared -> Int in
            let old = shared.state.ordinal
            if let newState { shared.state = newState }
            if !shared.subscribers.isEmpty {
                for continuation in shared.subscribers.values { continuation.yield(event) }
            }
            return old
        }
        if let newState { metrics?.stateChanged(from: old, to: newState.ordinal) }
        log(event)
    }

    /// Two events in order under one lock, the state changing with the second.
    @inline(never)
    private func publish(_ first: SupervisorEvent, then second: SupervisorEvent, state newState: SupervisorState) {
        let old = shared.withLock { shared -> Int in
            let old = shared.state.ordinal
            shared.state = newState
            if !shared.subscribers.isEmpty {
                for continuation in shared.subscribers.values {
                    continuation.yield(first)
                    continuation.yield(second)
                }
            }
            return old
        }
        metrics?.stateChanged(from: old, to: newState.ordinal)
        log(first)
        log(second)
    }

    /// Supervision is over: the last event, the end of every subscription. Always `false`: no further attempt.
    @inline(never)
    private func finish(_ reason: SupervisorStopReason) -> Bool {
        publish(.stopped(reason), state: .stopped(reason))
        let subscribers = shared.withLock { shared in
            shared.finalReason = reason
            defer { shared.subscribers.removeAll() }
            return Array(shared.subscribers.values)
        }
        for continuation in subscribers { continuation.finish() }
        return false
    }

    @inline(never)
    private func log(_ event: SupervisorEvent) {
        if case .failed(let failure) = event { metrics?.failed(failure) }
        // Every event logs at error or below; under a stricter logger there is nothing more to do.
        guard logLevel <= .error else { return }
        switch event {
        case .starting(let attempt):
            log(.debug, "starting", ["attempt": "\(attempt)"])
        case .ready(let attempt):
            log(.info, "ready", ["attempt": "\(attempt)"])
        case .failed(let failure):
            log(
                .warning, "failed",
                [
                    "phase": "\(failure.phase)", "error": "\(failure.error)", "decision": "\(failure.decision)",
                    "failures": "\(failure.failures)",
                ])
        case .backingOff(let delay, _, let attempt):
            log(.info, "backing off", ["delay": "\(delay)", "attempt": "\(attempt)"])
        case .degraded(let probeInterval):
            log(.error, "restart intensity exceeded, degraded", ["probe-interval": "\(probeInterval)"])
        case .stopped(let reason):
            if case .gaveUp = reason {
                log(.error, "gave up", ["reason": "\(reason)"])
            } else {
                log(.info, "stopped", ["reason": "\(reason)"])
            }
        }
    }

    private func log(_ level: Logger.Level, _ message: Logger.Message, _ metadata: @autoclosure () -> Logger.Metadata) {
        guard logLevel <= level else { return }
        var metadata = metadata()
        metadata["supervisor"] = "\(name)"
        logger.log(level: level, message, metadata: metadata)
    }
}

// Outside the generic class on purpose: types nested in a generic type are generic too, and their metadata is
// looked up at run time on every use in unspecialized code.

/// The mutable part, behind one lock: observed state, shutdown, event subscribers.
struct SupervisorShared: ~Copyable {
    var state: SupervisorState = .idle
    var hasRun = false
    var subscribers: [Int: AsyncStream<SupervisorEvent>.Continuation] = [:]
    var nextSubscriber = 0
    var finalReason: SupervisorStopReason?
}

/// A backoff the loop waits out before the next attempt: the instant it ends (an offset from the start of `run()`) and
/// its length.
struct PendingBackoff {
    let until: Duration
    let delay: Duration
}

/// The state of one supervision, and the alarm its task waits on, in one object: a parked supervisor then costs
/// one allocation besides itself and its task. Everything but the alarm is touched by the supervising task only.
final class SupervisionRun: Alarm, @unchecked Sendable {
    // Only the supervising task touches it, one access at a time: the dynamic exclusivity checks on every
    // access would cost more than a whole decision.
    @exclusivity(unchecked) var machine: SupervisorStateMachine
    let timeline: Timeline
    /// When `run()` began, on the timeline (shared by every supervisor on a system clock): the machine and the
    /// events count from there.
    @exclusivity(unchecked) var origin = Duration.zero
    /// The backoff before the next attempt, once a failure decided one.
    @exclusivity(unchecked) var backoff = PendingBackoff(until: .zero, delay: .zero)

    init(machine: SupervisorStateMachine, timeline: Timeline) {
        self.machine = machine
        self.timeline = timeline
        super.init()
    }

    /// The time since `run()` began.
    func now() -> Duration {
        timeline.now() - origin
    }
}
