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
/// - `stop(_:)` is called exactly once for every instance that `start()` returned, before any other start, in a
///   task that is not cancelled (so its own `try await` clean-up works); after the policy's
///   ``RestartPolicy/stopTimeout`` the supervisor moves on without it and reports
///   ``SupervisorEvent/stopTimedOut(after:)``.
/// - Once stopping began (cancellation or graceful shutdown), `start()` is never called again.
/// - Only the supervisor's own cancellation or shutdown ends supervision as ``SupervisorStopReason/requested``: a
///   `CancellationError` that the resource throws while the supervisor is neither cancelled nor shutting down is a
///   failure like any other (the default classifier restarts it).
/// - Every restart waits at least the policy's ``RestartPolicy/minimumRestartDelay`` and suspends, so a resource
///   that fails at once never keeps a thread of the cooperative pool.
/// - `run()` returns normally when asked to stop or when the classifier decides ``FailureDecision/stop``, and
///   throws ``SupervisorError`` when it gives up.
///
/// Named `ResourceSupervisor` rather than `Supervisor` so that the module name stays usable for qualified names
/// (`Supervisor.Backoff` would otherwise look inside the type).
public final class ResourceSupervisor<Resource: Restartable>: Service, @unchecked Sendable {
    // One object per supervisor, and nothing else while it is parked but its task and a 32-byte entry in the shared
    // deadline heap: the alarm lives under `shared`'s lock, the decisions in `machine`, and the scheduler rings this
    // object (see `DeadlineAlarm`). Sendable because `machine`, `originNanoseconds` and `servesInChildTask` are touched by the
    // supervising task only, everything else is immutable or behind `shared` or an atomic.

    /// Identifies this supervisor in logs, metrics and errors.
    public let name: String
    /// The policy every decision follows.
    public let policy: RestartPolicy

    private let logger: Logger
    private let metrics: SupervisorMetrics?
    /// The supervisor's clock, seen as offsets: shared by every supervisor on a system clock.
    private let timeline: Timeline
    // Only the supervising task touches the next three, one access at a time: the dynamic exclusivity checks on
    // every access would cost more than a whole decision.
    /// When `run()` began, on the timeline, in nanoseconds (8 bytes rather than a `Duration`'s 16: this one made
    /// the object cross a malloc size class). The events count from there; the machine counts on the timeline.
    @exclusivity(unchecked) private var originNanoseconds: Int64 = 0
    @exclusivity(unchecked) private var machine: SupervisorStateMachine
    /// Whether the resource runs in a child task, which only a graceful shutdown needs (`GracefulShutdownRelay`).
    @exclusivity(unchecked) private var servesInChildTask = false
    /// The logger's level, read once: our copy of the logger cannot change, and asking its handler on every event
    /// costs more than the event.
    private let logLevel: Logger.Level
    /// Set once by a graceful shutdown; read on every step, so an atomic.
    private let shutdownRequested = Atomic(false)
    private let shared = Mutex(SupervisorShared())
    /// How many events a subscription keeps for a subscriber that has not taken them yet, by default.
    public static var eventBufferLimit: Int { 1_024 }

    /// The supervised resource. Last, so that the fields above have fixed offsets in every specialization.
    public let resource: Resource

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
        self.machine = SupervisorStateMachine(policy: policy, generator: generator())
        self.timeline = Timeline.of(clock)
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
    ///
    /// The buffer is bounded by default: a subscriber that falls more than ``eventBufferLimit`` events behind
    /// loses the oldest ones (never the last, ``SupervisorEvent/stopped(_:)``), and the supervisor never waits for
    /// it. Pass `.unbounded` to keep every event, at the cost of memory while a subscriber stalls.
    public func events(
        bufferingPolicy: AsyncStream<SupervisorEvent>.Continuation.BufferingPolicy = .bufferingNewest(
            eventBufferLimit
        )
    ) -> AsyncStream<SupervisorEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SupervisorEvent.self, bufferingPolicy: bufferingPolicy)
        let finalReason = shared.withLock { shared -> SupervisorStopReason? in
            if let reason = shared.finalReason { return reason }
            let id = shared.nextSubscriber
            shared.nextSubscriber &+= 1
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
        ring(.wake)
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
        originNanoseconds = timeline.now().nanosecondsClamped
        if let manager = GracefulShutdownRelay.shared.join(self) {
            servesInChildTask = true
            await supervise()
            GracefulShutdownRelay.shared.leave(self, of: manager)
        } else {
            await supervise()
        }
        // Set by `finish(_:)`, which every way out of the loop goes through.
        if case .gaveUp(let error) = shared.withLock({ $0.finalReason }) { throw error }
    }

    /// Whether supervision must end: a graceful shutdown was requested, or the task was cancelled (the run's
    /// cancellation handler sets the flag, so no step has to ask the task, which costs a retain and a release).
    private var isStopping: Bool {
        shutdownRequested.load(ordering: .acquiring)
    }

    /// Whether a start must not happen: `isStopping`, or, under a shutdown manager, a graceful shutdown that the
    /// manager has begun and its relay has not delivered yet (its waiting task may not have run).
    private var mustNotStart: Bool {
        isStopping || (servesInChildTask && Task.isShuttingDownGracefully)
    }

    /// A graceful shutdown or a cancellation: end whatever wait is armed; every step checks the flag.
    private func requestStop() {
        shutdownRequested.store(true, ordering: .releasing)
        ring(.shutdown)
    }

    // MARK: - The loop: carry out what the state machine decides

    @inline(__always)  // into run() and its closure: no frame of its own
    private func supervise() async {
        // One cancellation handler for the whole run, rather than one per wait and a question to the task on every
        // step.
        await withTaskCancellationHandler {
            await loop()
        } onCancel: {
            requestStop()
        }
    }

    // Every async function below keeps its frame small, and the synchronous work (decisions, events, logs) sits in
    // functions that are never inlined into them: a task's frames come from its task allocator, whose slabs are
    // kept for the task's whole life, so the deepest moment of a cycle sets what a parked supervisor costs.

    @inline(__always)  // into run() and its closure: one frame less in every parked task
    private func loop() async {
        var attempt = machine.begin()
        var announced = false
        while true {
            switch await self.attempt(attempt, announced: announced) {
            case .finished:
                return
            case .afterWait(let floor):
                await park()
                let woken = shared.withLock { shared in
                    defer { shared.alarm.disarm() }
                    return !shared.alarm.rungByDeadline
                }
                // A wake-up cuts a backoff short, but not below the minimum restart delay: a flapping network
                // monitor must not make a failing resource spin.
                if woken, !isStopping, timeline.now().nanosecondsClamped < floor { await waitOut(floor) }
                announced = false
            case .now:
                // A restart without a delay still suspends: a resource that fails at once must not keep this
                // thread of the cooperative pool from every other task.
                await Task.yield()
                announced = false
            case .nowAnnounced:
                await Task.yield()
                announced = true
            }
            attempt = machine.backoffEnded()
        }
    }

    /// One attempt: announce it (unless the failure before did), start, and hand a started instance to
    /// `serveStarted`. Returns how the next attempt follows; `.finished` when supervision is over (`finish(_:)`
    /// recorded why).
    @inline(__always)  // into the loop: no frame, allocation or executor check of its own on every cycle
    private func attempt(_ attempt: Int, announced: Bool) async -> NextAttempt {
        if mustNotStart { return finish(machine.shutdown()) }
        if !announced { starting(attempt) }
        let instance: Resource.Instance
        do {
            instance = try await resource.start()
        } catch {
            return startFailed(error)
        }
        return await serveStarted(instance, attempt: attempt)
    }

    /// A started instance: ready, serve until it fails or ends, stop; then what the machine decides. A function of
    /// its own, so that its frame is not part of every start (the deepest moment of a cycle that fails to start).
    private func serveStarted(_ instance: Resource.Instance, attempt: Int) async -> NextAttempt {
        if mustNotStart {
            await stop(instance)
            return finish(machine.shutdown())
        }
        becameReady(attempt)
        var runError: (any Error)?
        if servesInChildTask {
            runError = await serveInChildTask(instance)
        } else {
            // In this task: cancellation, the only way to stop the resource here, reaches it directly.
            do { try await resource.run(instance) } catch { runError = error }
        }
        // The run ended now, not when its stop returns: a slow stop must not make a short run look stable.
        let endedAt = runStopped()
        await stop(instance)
        return runEnded(runError, at: endedAt)
    }

    /// The run just ended: the instant it did, and the end of a degraded run's wait for stability. A degraded run
    /// that was stable when it ended reports `recovered` here if the scheduler has not yet (its timer may be late).
    @inline(never)
    private func runStopped() -> Duration {
        let endedAt = now()
        let pending = shared.withLock { shared in
            defer { shared.recoveryDeadline = Alarm.noDeadline }
            return shared.recoveryDeadline
        }
        if pending != Alarm.noDeadline, endedAt.nanosecondsClamped >= pending, !mustNotStart {
            publish(.recovered, state: nil)
        }
        return endedAt
    }

    /// Stops `instance` in a task that is not cancelled, so that the resource's `try await` clean-up works after a
    /// cancellation too, and waits for it at most the policy's stop timeout. A stop that takes longer goes on by
    /// itself; the supervisor reports it and moves on.
    private func stop(_ instance: Resource.Instance) async {
        guard let timeout = policy.stopTimeout else {
            // No timeout: still a task of its own, which a cancellation arriving during the stop cannot reach.
            await Task { await resource.stop(instance) }.value
            return
        }
        let deadline = (now() + timeout).nanosecondsClamped
        shared.withLock { $0.alarm.arm(.stopping, deadline: deadline) }
        // Not detached: the stop keeps the caller's task-locals and priority, only not its cancellation.
        Task { [self] in
            await resource.stop(instance)
            ring(.stopEnded(deadline))
        }
        timeline.schedule(self, deadline, nil)
        await park()
        let timedOut = shared.withLock { shared in
            defer { shared.alarm.disarm() }
            return shared.alarm.rungByDeadline
        }
        if timedOut { stopTimedOut(timeout) }
    }

    @inline(never)
    private func stopTimedOut(_ timeout: Duration) {
        publish(.stopTimedOut(after: timeout), state: nil)
    }

    @inline(never)
    private func starting(_ attempt: Int) {
        publish(.starting(attempt: attempt), state: .starting(attempt: attempt))
    }

    @inline(never)
    private func becameReady(_ attempt: Int) {
        if let streak = machine.startSucceeded(at: now()) {
            metrics?.timeToRecover.record(duration: streak)
        }
        publish(.ready(attempt: attempt), state: .ready)
        if let stableAt = machine.degradedRunStableAt {
            // A degraded supervisor recovers once this run has been up for the stable uptime: the scheduler rings
            // then, and `deadlineReached` reports it if the run is still going.
            let deadline = stableAt.nanosecondsClamped
            shared.withLock { $0.recoveryDeadline = deadline }
            timeline.schedule(self, deadline, policy.timerTolerance.tolerance(for: policy.stableUptime))
        }
    }

    @inline(never)
    private func startFailed(_ error: consuming any Error) -> NextAttempt {
        // A start that fails while supervision is stopping is the shutdown, not a failure, whatever it threw. The
        // task's own flag too: a resource may see its cancellation before the cancellation handler has run.
        if mustNotStart || Task.isCancelled { return finish(machine.shutdown()) }
        return report(machine.startFailed(error, at: now()))
    }

    @inline(never)
    private func runEnded(_ error: consuming (any Error)?, at endedAt: Duration) -> NextAttempt {
        // The resource's error during a shutdown is the shutdown itself, not a failure (see `startFailed`); under a
        // shutdown manager the resource may see the graceful shutdown before its relay has told this supervisor.
        if mustNotStart || Task.isCancelled { return finish(machine.shutdown()) }
        return report(machine.runEnded(error, at: endedAt))
    }

    /// Publishes a failure and what was decided; for a restart after a delay, arms the alarm and schedules its
    /// deadline, so that the loop only has to park. Inlined into `startFailed` and `runEnded`, which are not inlined
    /// into the loop: one call less per failure.
    @inline(__always)
    private func report(_ outcome: (SupervisorFailure, SupervisorStateMachine.Next)) -> NextAttempt {
        let (failure, next) = outcome
        switch next {
        case .finish(let reason):
            if case .completed = reason {} else { publish(.failed(failure), state: nil) }
            return finish(reason)
        case .giveUp(let code, let failure):
            publish(.failed(failure), state: nil)
            let error = SupervisorError(
                code: code,
                name: name,
                lastFailure: failure.error,
                phase: failure.phase,
                failures: failure.failures
            )
            return finish(.gaveUp(error))
        case .restart(let delay, let deadline, let nextAttempt, let enteredDegraded):
            metrics?.restarts.increment()
            if enteredDegraded, let probeInterval = policy.escalation.probeInterval {
                let until = sinceRunBegan(deadline)
                publish(.failed(failure), state: nil)
                publish(.degraded(probeInterval: probeInterval), state: .degraded(until: until))
                publish(.backingOff(delay: delay, until: until, attempt: nextAttempt), state: .degraded(until: until))
            } else if delay == .zero, !isStopping {
                // A restart at once: the failure, the empty backoff and the next start in one lock. The state goes
                // straight to starting; a shutdown that comes before the next step still ends supervision there,
                // before `start()` is called (`stopped` then follows this `starting`).
                publishRestart(failure, delay: delay, deadline: deadline, attempt: nextAttempt, announcing: true)
                return .nowAnnounced
            } else {
                // The common case in one lock: the failure, then the backoff it leads to.
                publishRestart(failure, delay: delay, deadline: deadline, attempt: nextAttempt, announcing: false)
            }
            guard delay > .zero else { return .now }
            return armBackoff(until: deadline, delay: delay)
        }
    }

    /// Waits until the timeline's `instant` (nanoseconds), or a shutdown; wake-ups do not end it.
    private func waitOut(_ instant: Int64) async {
        shared.withLock { $0.alarm.arm(.floor, deadline: instant) }
        timeline.schedule(self, instant, nil)
        await park()
        shared.withLock { $0.alarm.disarm() }
    }

    /// Arms the alarm for the backoff ending at `until` (on the timeline) and hands it to the timeline's scheduler;
    /// the wait ends then, or at a ``wake()``, a shutdown or a cancellation, whichever comes first. Costs no task.
    private func armBackoff(until: Duration, delay: Duration) -> NextAttempt {
        let deadline = until.nanosecondsClamped
        shared.withLock { $0.alarm.arm(.backoff, deadline: deadline) }
        // Checked after arming, so a shutdown requested just before is not missed: the next attempt finishes.
        if isStopping {
            shared.withLock { $0.alarm.disarm() }
            return .now
        }
        // Not under our lock: the scheduler may ask alarms whether they still wait.
        timeline.schedule(self, deadline, policy.timerTolerance.tolerance(for: delay))
        // The earliest a wake-up may start the next attempt: the failure plus the minimum restart delay.
        return .afterWait(floor: (until - delay + policy.minimumRestartDelay).nanosecondsClamped)
    }

    /// Runs the resource in a child task, so that a graceful shutdown can cancel it; returns its error, if any.
    ///
    /// An `async let`: its task lives in this task's allocator rather than in a malloc of its own. Leaving the
    /// scope without awaiting it is what cancels it (and waits for it): the resource's error during a shutdown is the
    /// shutdown itself, so it is not needed then.
    private func serveInChildTask(_ instance: Resource.Instance) async -> (any Error)? {
        shared.withLock { $0.alarm.arm(.serving) }
        defer { shared.withLock { $0.alarm.disarm() } }
        async let outcome = runRinging(instance)
        // Rung when run() ends, or on shutdown or cancellation, whichever comes first.
        if !isStopping { await park() }
        if isStopping { return nil }
        return await outcome
    }

    /// The resource's run, ringing the alarm when it ends; its error, if any.
    private func runRinging(_ instance: Resource.Instance) async -> (any Error)? {
        defer { ring(.runEnded) }
        do {
            try await resource.run(instance)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - The alarm

    /// Suspends until the armed wait is rung; returns at once if it already was. Cancellation rings it through the
    /// run's cancellation handler.
    private func park() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            if !shared.withLock({ $0.alarm.park(continuation) }) { continuation.resume() }
        }
    }

    /// Ends the armed wait, if `ringer` may end it.
    private func ring(_ ringer: Alarm.Ringer) {
        shared.withLock { $0.alarm.ring(ringer) }?.resume()
    }

    /// The time on the timeline, which the machine counts in (only differences matter to it).
    private func now() -> Duration {
        timeline.now()
    }

    /// A timeline instant as the events give it: the time since `run()` began.
    private func sinceRunBegan(_ instant: Duration) -> Duration {
        instant - .exactNanoseconds(originNanoseconds)
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
        if let metrics {
            if let newState { metrics.stateChanged(from: old, to: newState.ordinal) }
            if case .failed(let failure) = event { metrics.failed(failure) }
        }
        log(event)
    }

    /// A failure and the backoff it leads to (and, when `announcing`, the start of the next attempt at once) under
    /// one lock. The events are made only for whoever takes them (subscribers, the log, metrics): a supervisor that
    /// nobody watches pays for the state alone.
    @inline(__always)  // into `report`, which is inlined into the two never-inlined failure steps
    private func publishRestart(
        _ failure: SupervisorFailure,
        delay: Duration,
        deadline: Duration,
        attempt: Int,
        announcing: Bool
    ) {
        // The events' instants count from the start of `run()`; the machine's from the timeline's origin. Converted
        // only where an event or a backoff state is made: a restart at once that nobody watches needs neither.
        var until: Duration { sinceRunBegan(deadline) }
        let newState: SupervisorState =
            if announcing {
                .starting(attempt: attempt)
            } else if machine.isDegraded {
                .degraded(until: until)
            } else {
                .backingOff(delay: delay, until: until)
            }
        let old = shared.withLock { shared -> Int in
            let old = shared.state.ordinal
            shared.state = newState
            if !shared.subscribers.isEmpty {
                let failed = SupervisorEvent.failed(failure)
                let backingOff = SupervisorEvent.backingOff(delay: delay, until: until, attempt: attempt)
                for continuation in shared.subscribers.values {
                    continuation.yield(failed)
                    continuation.yield(backingOff)
                    if announcing { continuation.yield(.starting(attempt: attempt)) }
                }
            }
            return old
        }
        if let metrics {
            metrics.stateChanged(from: old, to: newState.ordinal)
            metrics.failed(failure)
        }
        // Every event logs at warning or below; under a stricter logger there is nothing more to do.
        guard logLevel <= .warning else { return }
        log(.failed(failure))
        log(.backingOff(delay: delay, until: until, attempt: attempt))
        if announcing { log(.starting(attempt: attempt)) }
    }

    /// Supervision is over: the last event, the end of every subscription. Always `.finished`.
    @inline(never)
    private func finish(_ reason: SupervisorStopReason) -> NextAttempt {
        publish(.stopped(reason), state: .stopped(reason))
        // A subscriber from now on sees the stopped state and gets the last event from `events()` itself.
        let subscribers = shared.withLock { shared in
            defer { shared.subscribers.removeAll() }
            return Array(shared.subscribers.values)
        }
        for continuation in subscribers { continuation.finish() }
        return .finished
    }

    @inline(never)
    private func log(_ event: SupervisorEvent) {
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
        case .recovered:
            log(.notice, "recovered from the degraded state", [:])
        case .stopTimedOut(let timeout):
            log(.error, "stop timed out, moving on without it", ["timeout": "\(timeout)"])
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

/// The mutable part, behind one lock: observed state, event subscribers, the alarm.
struct SupervisorShared: ~Copyable {
    // In an order that leaves little padding: the alarm's flags, `hasRun` and `nextSubscriber` share a word.
    var alarm = Alarm()
    /// When a degraded supervisor's current run becomes stable (see `becameReady`); `Alarm.noDeadline` when none.
    var recoveryDeadline = Alarm.noDeadline
    var hasRun = false
    /// Wraps after 2³² subscriptions; a subscription that outlives that many others is the only one it could meet.
    var nextSubscriber: UInt32 = 0
    var subscribers: [UInt32: AsyncStream<SupervisorEvent>.Continuation] = [:]
    var state: SupervisorState = .idle

    /// Why supervision ended, once it has: the last state says it.
    var finalReason: SupervisorStopReason? {
        if case .stopped(let reason) = state { reason } else { nil }
    }
}

/// What the loop does after an attempt.
enum NextAttempt {
    /// Start the next attempt at once (no delay, or a shutdown the next attempt will see).
    case now
    /// Start the next attempt at once; its `starting` event and state are published already.
    case nowAnnounced
    /// Park until the armed alarm rings (the backoff's deadline, a wake-up, a shutdown), then start the next one;
    /// after a wake-up, not before `floor` (the timeline's nanoseconds).
    case afterWait(floor: Int64)
    /// Supervision is over.
    case finished
}

extension ResourceSupervisor: GracefullyStoppable {
    func shutDownGracefully() {
        requestStop()
    }
}

extension ResourceSupervisor: DeadlineAlarm {
    func deadlineReached(_ instant: Int64) {
        var recovered = false
        let continuation = shared.withLock { shared -> UnsafeContinuation<Void, Never>? in
            if instant == shared.recoveryDeadline, instant != Alarm.noDeadline {
                shared.recoveryDeadline = Alarm.noDeadline
                recovered = true
                return nil
            }
            return shared.alarm.ring(.deadline(instant))
        }
        continuation?.resume()
        if recovered { publish(.recovered, state: nil) }
    }

    func isWaiting(until instant: Int64) -> Bool {
        shared.withLock { $0.alarm.isPending(at: instant) || $0.recoveryDeadline == instant }
    }
}
