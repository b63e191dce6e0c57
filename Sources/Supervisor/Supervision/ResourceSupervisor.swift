public import Logging
public import Metrics
public import ServiceLifecycle
import Synchronization

// How the runner is built, and why. A supervisor must be cheap enough to park by the hundred thousand and to restart
// at once for little more than the `Task.yield()` every restart makes (figures, commands and the profiles behind
// them: Docs/benchmarks.md, "The supervisor"). So while it is parked it is one object and nothing else but its task
// and a 32-byte entry in the shared deadline heap: the machine inline, the alarm under `shared`'s lock, the
// scheduler ringing the object itself; the fields are ordered and sized to leave little padding, since a few bytes
// more can cross a malloc size class, the resource comes last so that the others keep fixed offsets in every
// specialization, and the types the runner keeps (`SupervisorShared`, `SupervisorStep`) live outside the generic
// class, whose nested types would be generic too, their metadata looked up at run time. The async functions keep
// small frames and leave the synchronous work (decisions, events, logs) to functions that are never inlined into
// them: a task's frames come from its task allocator, whose slabs stay for the task's whole life, so the deepest
// moment of a cycle sets what every parked supervisor costs. On every step the runner reads one atomic stop flag,
// set by a single cancellation handler for the whole run, instead of asking the task (a retain and a release); it
// reads the logger's level once, since asking the handler costs more than an event; it makes events only for
// whoever takes them (subscribers, a logger at that level, metrics); and the fields only the supervising task
// touches skip the dynamic exclusivity checks, which would cost more than a whole decision.

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
    // Sendable because `machine` and `underShutdownManager` are touched by the supervising task only; everything else
    // is immutable, behind `shared`'s lock or an atomic.

    /// Identifies this supervisor in logs, metrics and errors.
    public let name: String
    /// The policy every decision follows.
    public let policy: RestartPolicy

    private let logger: Logger
    private let metrics: SupervisorMetrics?
    /// The group this supervisor keeps a child of, told when the child is ready or fails; `nil` alone.
    private let link: GroupLink?
    /// The supervisor's clock, seen as offsets: shared by every supervisor on a system clock.
    private let timeline: Timeline
    /// Every decision, and what to publish and do after it.
    @exclusivity(unchecked) private var machine: SupervisorStateMachine
    /// Whether a graceful shutdown can reach this supervisor (`GracefulShutdownRelay`): it must then end the
    /// resource's run without cancelling the caller's task (`serveEndable`, `serveInChildTask`).
    @exclusivity(unchecked) private var underShutdownManager = false
    /// The logger's level, read once.
    private let logLevel: Logger.Level
    /// Set once by a graceful shutdown or a cancellation; read on every step.
    private let shutdownRequested = Atomic(false)
    private let shared = Mutex(SupervisorShared())
    /// How many events a subscription keeps for a subscriber that has not taken them yet, by default.
    public static var eventBufferLimit: Int { 1_024 }

    /// The supervised resource (the last field: see the file's header).
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
    public convenience init(
        _ resource: Resource,
        name: String,
        policy: RestartPolicy = .default,
        clock: any Clock<Duration> = ContinuousClock(),
        generator: @escaping @Sendable () -> any RandomNumberGenerator = { SystemRandomNumberGenerator() },
        logger: Logger = Logger(label: "supervisor"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.init(
            resource, name: name, policy: policy, clock: clock, generator: generator, logger: logger,
            metricsFactory: metricsFactory, link: nil)
    }

    /// A supervisor that keeps a child of a group: the group hears of its readiness and failures through `link`.
    init(
        _ resource: Resource,
        name: String,
        policy: RestartPolicy,
        clock: any Clock<Duration>,
        generator: @escaping @Sendable () -> any RandomNumberGenerator,
        logger: Logger,
        metricsFactory: any MetricsFactory,
        link: GroupLink?
    ) {
        self.link = link
        self.resource = resource
        self.name = name
        self.policy = policy
        self.machine = SupervisorStateMachine(policy: policy, generator: generator())
        self.timeline = Timeline.of(clock)
        // Not `logger[metadataKey:]`, which copies the logger's storage (72 bytes a supervisor): the name goes into
        // each message's metadata instead (see `log(_:)`).
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

    /// How far apart supervisors woken together start, unless told otherwise: 100 ms.
    ///
    /// Small beside what it saves: a listener woken by a network change waits 50 ms more on average, against
    /// outages that last seconds; ten thousand supervisors woken by one netlink message start about a hundred
    /// per millisecond instead of all in the same one.
    public static var defaultWakeSpread: Duration { .milliseconds(100) }

    /// The longest spread a wake-up takes: a longer one is taken as this (about 71 minutes, in microseconds).
    public static var longestWakeSpread: Duration { .microseconds(UInt32.max) }

    /// Cuts a pending backoff short: the next attempt starts at a random instant within `spread` from now (drawn
    /// from the supervisor's generator, as its jitter is), so that supervisors woken together do not start
    /// together. Never before the minimum restart delay or the end of a wait for the restart budget's tokens, and
    /// never after the backoff's own end. Idempotent: once woken, further wake-ups change nothing until the next
    /// backoff. During a `start()` or a resource's stop, and from its end until the backoff after it begins, it is
    /// remembered: the start may have begun before the change it reports, so if it fails, its backoff ends at
    /// once, within the spread. While the resource serves it does nothing. Network-change monitors and operators
    /// call it.
    ///
    /// ```swift
    /// supervisor.wake()                   // starts within the next 100 ms
    /// supervisor.wake(spread: .zero)      // starts now (or at the floor): one supervisor, nobody to herd
    /// ```
    ///
    /// Wake-ups in a burst (a netlink storm) count once toward the restart intensity and `maxAttempts`: see
    /// ``RestartPolicy/wakeBurstWindow``. A negative spread is taken as zero, one longer than
    /// ``longestWakeSpread`` as that.
    public func wake(spread: Duration = ResourceSupervisor.defaultWakeSpread) {
        let microseconds =
            spread <= .zero
            ? 0 : spread >= Self.longestWakeSpread ? UInt32.max : UInt32(spread.nanosecondsClamped / 1_000)
        shared.withLock { $0.alarm.ringWake(spreadMicroseconds: microseconds) }?.resume()
    }

    /// Supervises the resource until shutdown (returns), a stop decision (returns), or giving up (throws
    /// ``SupervisorError``). A supervisor runs once; a second call throws ``ConfigurationError``.
    ///
    /// Cancellation and graceful shutdown stop it at once while it backs off or runs the resource (the resource's
    /// `run(_:)` is cancelled, or, on a graceful shutdown, ended by ``Restartable/endRun(_:)`` where the resource
    /// says it can). A `start()` in progress is left to finish, or is cancelled with the task; the instance it
    /// returns is stopped at once.
    public func run() async throws {
        let firstRun = shared.withLock { shared in
            defer { shared.hasRun = true }
            return !shared.hasRun
        }
        guard firstRun else {
            throw ConfigurationError(.inconsistent, option: "run()", "supervisor \(name) has already run")
        }
        if let manager = GracefulShutdownRelay.shared.join(self) {
            underShutdownManager = true
            await supervise()
            GracefulShutdownRelay.shared.leave(self, of: manager)
        } else {
            await supervise()
        }
        // Set by `finish(_:)`, which every way out of the loop goes through.
        if case .gaveUp(let error) = shared.withLock({ $0.finalReason }) { throw error }
    }

    /// Whether supervision must end: a graceful shutdown was requested, or the task was cancelled (the run's
    /// cancellation handler sets the flag).
    private var isStopping: Bool {
        shutdownRequested.load(ordering: .acquiring)
    }

    /// Whether a start must not happen: `isStopping`, or, under a shutdown manager, a graceful shutdown that the
    /// manager has begun and its relay has not delivered yet (its waiting task may not have run).
    private var mustNotStart: Bool {
        isStopping || (underShutdownManager && Task.isShuttingDownGracefully)
    }

    /// A graceful shutdown or a cancellation: end whatever wait is armed; every step checks the flag.
    func requestStop() {
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

    // The async functions below only wait and call the resource; every decision comes from `machine`, and the
    // synchronous work of carrying one out (events, logs, metrics, arming the alarm) sits in functions that are never
    // inlined into them (see the file's header).

    @inline(__always)  // into run() and its closure: one frame less in every parked task
    private func loop() async {
        var step = begin()
        while true {
            switch step {
            case .start(let attempt):
                step = await self.attempt(attempt)
            case .park:
                await park()
                step = backoffRung()
            case .yield:
                // A restart without a delay still suspends: a resource that fails at once must not keep this
                // thread of the cooperative pool from every other task.
                await Task.yield()
                step = backoffEnded()
            case .waitOut(let instant):
                await waitOut(instant)
                step = backoffEnded()
            case .finished:
                return
            }
        }
    }

    /// One attempt: start, and hand a started instance to `serveStarted`. Returns the next step.
    @inline(__always)  // into the loop: no frame, allocation or executor check of its own on every cycle
    private func attempt(_ attempt: Int) async -> SupervisorStep {
        let instance: Resource.Instance
        // Armed so that a wake-up during the start is remembered for the backoff after a failure.
        shared.withLock { $0.alarm.arm(.starting) }
        do {
            instance = try await resource.start()
        } catch {
            // Left armed: a wake-up while the failure is published is remembered until the backoff is armed.
            return startFailed(error)
        }
        // Started after the change a wake-up during the start reported: nothing to remember.
        shared.withLock { shared in
            shared.alarm.disarm()
            shared.alarm.forgetWake()
        }
        return await serveStarted(instance)
    }

    /// A started instance: ready, serve until it fails or ends, stop; then what the machine decides. A function of
    /// its own, so that its frame is not part of every start (the deepest moment of a cycle that fails to start).
    private func serveStarted(_ instance: Resource.Instance) async -> SupervisorStep {
        if let reason = becameReady() {
            await stop(instance)
            return finish(SupervisorStateMachine.ReadyAction.stopAndFinish(reason))
        }
        var runError: (any Error)?
        if underShutdownManager, resource.endsRunOnRequest {
            runError = await serveEndable(instance)
        } else if underShutdownManager {
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

    /// Stops `instance` in a task that is not cancelled, so that the resource's `try await` clean-up works after a
    /// cancellation too, and waits for it at most the policy's stop timeout. A stop that takes longer goes on by
    /// itself; the supervisor publishes what the machine says and moves on.
    private func stop(_ instance: Resource.Instance) async {
        guard let timeout = policy.stopTimeout else {
            // Armed without a deadline, never parked on: a wake-up during the stop is remembered for the backoff.
            shared.withLock { $0.alarm.arm(.stopping) }
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
        stopEnded()
    }

    /// Waits until the timeline's `instant` (nanoseconds), or a shutdown; wake-ups do not end it: the instant a
    /// wake-up's start was drawn for, or the rest of the minimum restart delay.
    private func waitOut(_ instant: Int64) async {
        shared.withLock { $0.alarm.arm(.floor, deadline: instant) }
        timeline.schedule(self, instant, nil)
        await park()
        shared.withLock { $0.alarm.disarm() }
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

    /// Runs the resource in this task, where a graceful shutdown ends it through ``Restartable/endRun(_:)`` (see
    /// `shutDownGracefully()`) rather than by cancelling a child task: no task to create on every start.
    private func serveEndable(_ instance: Resource.Instance) async -> (any Error)? {
        let resource = self.resource
        // Under the lock a shutdown takes the action from: set before this, it is seen here, and the run does not
        // begin; set after, the shutdown finds the action and ends the run.
        let begins = shared.withLock { shared -> Bool in
            guard !isStopping else { return false }
            shared.endRun = { resource.endRun(instance) }
            return true
        }
        guard begins else { return nil }
        var runError: (any Error)?
        do { try await resource.run(instance) } catch { runError = error }
        shared.withLock { $0.endRun = nil }
        return runError
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

    // MARK: - The steps: report to the machine, carry out its action

    /// Supervision begins: the first attempt, or the end if stopping already.
    @inline(never)
    private func begin() -> SupervisorStep {
        carryOut(machine.begin(at: now(), stopping: mustNotStart))
    }

    /// The backoff's alarm rang: its deadline, or a wake-up or a shutdown before it.
    @inline(never)
    private func backoffRung() -> SupervisorStep {
        let (woken, spreadMicroseconds) = shared.withLock { shared in
            defer { shared.alarm.disarm() }
            return (!shared.alarm.rungByDeadline, shared.alarm.wakeSpreadMicroseconds)
        }
        return carryOut(
            machine.backoffEnded(
                wokenAt: woken ? now() : nil,
                spread: .microseconds(spreadMicroseconds),
                stopping: mustNotStart
            ))
    }

    /// The backoff ended without a wake-up: a restart at once yielded, or the minimum restart delay has passed.
    @inline(never)
    private func backoffEnded() -> SupervisorStep {
        carryOut(machine.backoffEnded(stopping: mustNotStart))
    }

    @inline(__always)  // into the three steps above
    private func carryOut(_ action: SupervisorStateMachine.AttemptAction) -> SupervisorStep {
        switch action {
        case .start(let attempt, let announce):
            if announce { publish(action) }
            return .start(attempt: attempt)
        case .waitOut(let until):
            return .waitOut(until.nanosecondsClamped)
        case .finish:
            return finish(action)
        }
    }

    /// `start()` returned: publishes what the machine says and, for a degraded supervisor, has the scheduler ring
    /// when this run becomes stable (`deadlineReached` reports `recovered` then, if the run is still going). Returns
    /// why supervision ends instead, when it is stopping: the instance is to be stopped first.
    @inline(never)
    private func becameReady() -> SupervisorStopReason? {
        let action = machine.startSucceeded(at: now(), stopping: mustNotStart)
        switch action {
        case .stopAndFinish(let reason):
            return reason
        case .serve(_, let timeToRecover, let recoversAt):
            if let timeToRecover { metrics?.timeToRecover.record(duration: timeToRecover) }
            publish(action)
            if let recoversAt {
                let deadline = recoversAt.nanosecondsClamped
                shared.withLock { $0.recoveryDeadline = deadline }
                timeline.schedule(self, deadline, policy.timerTolerance.tolerance(for: policy.stableUptime))
            }
            return nil
        }
    }

    /// The run just ended: the instant it did, and the end of a degraded run's wait for stability, which the machine
    /// may report as `recovered` here if the scheduler has not yet (its timer may be late).
    @inline(never)
    private func runStopped() -> Duration {
        let endedAt = now()
        let pending = shared.withLock { shared in
            defer { shared.recoveryDeadline = Alarm.noDeadline }
            return shared.recoveryDeadline != Alarm.noDeadline
        }
        if let event = machine.runReturned(at: endedAt, recoveryPending: pending, stopping: mustNotStart) {
            publish(event)
        }
        return endedAt
    }

    /// The stop's wait ended: by the stop's return, or by its timeout.
    @inline(never)
    private func stopEnded() {
        // Left armed (rung, so nothing ends it again): a wake-up while the run's end is published is remembered until
        // the backoff is armed.
        let timedOut = shared.withLock { $0.alarm.rungByDeadline }
        if let event = machine.stopEnded(timedOut: timedOut) { publish(event) }
    }

    @inline(never)
    private func startFailed(_ error: consuming any Error) -> SupervisorStep {
        // The task's own flag too: a resource may see its cancellation before the cancellation handler has run.
        let stopping = mustNotStart || Task.isCancelled
        return carryOut(machine.startFailed(error, at: now(), stopping: stopping))
    }

    @inline(never)
    private func runEnded(_ error: consuming (any Error)?, at endedAt: Duration) -> SupervisorStep {
        // Under a shutdown manager the resource may see the graceful shutdown before its relay has told this
        // supervisor; and the task's own flag, as in `startFailed`.
        let stopping = mustNotStart || Task.isCancelled
        return carryOut(machine.runEnded(error, at: endedAt, stopping: stopping))
    }

    /// Publishes what the machine decided after a failure; for a restart after a delay, arms the alarm and
    /// schedules its deadline, so that the loop only has to park. Inlined into `startFailed` and `runEnded`, which
    /// are not inlined into the loop: one call less per failure.
    @inline(__always)
    private func carryOut(_ action: SupervisorStateMachine.FailureAction) -> SupervisorStep {
        guard case .restart = action.outcome else { return finish(action) }
        metrics?.restarts.increment()
        publish(action)
        // Only the backoff's instants: no copy of the failure.
        guard let (until, delay) = action.backoff else { return .yield }
        let deadline = until.nanosecondsClamped
        shared.withLock { $0.alarm.arm(.backoff, deadline: deadline) }
        // Checked after arming: a shutdown requested before rang nothing, so it rings now and the park returns at
        // once (the machine then finishes).
        if isStopping {
            ring(.shutdown)
            return .park
        }
        // Not under our lock: the scheduler may ask alarms whether they still wait.
        timeline.schedule(self, deadline, policy.timerTolerance.tolerance(for: delay))
        return .park
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

    // MARK: - Reporting: state, events, logs, metrics

    // One concrete `publish` and `finish` per action type, each with the shared body inlined: a generic function
    // called from this unspecialized class reaches the action through witness tables and copies it through value
    // witnesses on every restart.

    @inline(never)
    private func publish(_ action: SupervisorStateMachine.FailureAction) { publishing(action) }

    @inline(never)
    private func publish(_ action: SupervisorStateMachine.AttemptAction) { publishing(action) }

    @inline(never)
    private func publish(_ action: SupervisorStateMachine.ReadyAction) { publishing(action) }

    @inline(never)
    private func publish(_ event: SupervisorEvent) { publishing(event) }

    @inline(never)
    private func finish(_ action: SupervisorStateMachine.FailureAction) -> SupervisorStep {
        publishing(action)
        return endSubscriptions()
    }

    @inline(never)
    private func finish(_ action: SupervisorStateMachine.AttemptAction) -> SupervisorStep {
        publishing(action)
        return endSubscriptions()
    }

    @inline(never)
    private func finish(_ action: SupervisorStateMachine.ReadyAction) -> SupervisorStep {
        publishing(action)
        return endSubscriptions()
    }

    /// Publishes what an action says: its state and its events, to every subscriber under one lock, then to
    /// metrics and the log. The events are made only for whoever takes them: a supervisor that nobody watches pays
    /// for the state alone.
    @inline(__always)  // into the concrete `publish` and `finish` above
    private func publishing(_ publication: some SupervisorPublication) {
        let newState = publication.state(supervisor: name)
        let old = shared.withLock { shared -> Int in
            let old = shared.state.ordinal
            if let newState { shared.state = newState }
            if !shared.subscribers.isEmpty {
                publication.forEachEvent(supervisor: name) { event in
                    for continuation in shared.subscribers.values { continuation.yield(event) }
                }
            }
            return old
        }
        if let metrics {
            if let newState { metrics.stateChanged(from: old, to: newState.ordinal) }
            publication.forEachEvent(supervisor: name) { event in
                switch event {
                case .failed(let failure): metrics.failed(failure)
                case .waitingForBudget: metrics.budgetWaits.increment()
                default: break
                }
            }
        }
        if let link {
            let stopped = if case .stopped = newState { true } else { false }
            let forwards = link.forwardsEvents
            publication.forEachEvent(supervisor: name) { event in
                switch event {
                case .ready: link.ready()
                // A failure that does not end supervision: this supervisor starts the child again by itself.
                case .failed(let failure) where !stopped: link.restarting(after: failure.error)
                default: break
                }
                if forwards { link.forward(event, path: name) }
            }
        }
        // Every event logs at error or below; under a stricter logger there is nothing more to do.
        guard logLevel <= .error else { return }
        publication.forEachEvent(supervisor: name) { log($0) }
    }

    /// Supervision is over, its last events (ending with `stopped`) published: ends every subscription. Always
    /// `.finished`.
    @inline(__always)  // into the concrete `finish` above
    private func endSubscriptions() -> SupervisorStep {
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
        case .waitingForBudget(let until):
            log(.notice, "waiting for the restart budget", ["until": "\(until)"])
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
    /// Ends the run in progress, for a graceful shutdown; set only while a resource that can end its run from
    /// outside runs in the supervising task (`serveEndable`). Before `state`, whose odd size would pad it.
    var endRun: (@Sendable () -> Void)?
    var state: SupervisorState = .idle

    /// Why supervision ended, once it has: the last state says it.
    var finalReason: SupervisorStopReason? {
        if case .stopped(let reason) = state { reason } else { nil }
    }
}

/// What the loop does next: the machine's action, once its synchronous part is carried out.
enum SupervisorStep {
    /// Call `start()` for this attempt (its `starting` event is out).
    case start(attempt: Int)
    /// Park until the armed backoff alarm rings (its deadline, a wake-up, a shutdown).
    case park
    /// Yield to the other tasks of the pool, then end the backoff.
    case yield
    /// Park until the timeline's instant (nanoseconds) or a shutdown: the rest of the minimum restart delay.
    case waitOut(Int64)
    /// Supervision is over.
    case finished
}

extension ResourceSupervisor: GracefullyStoppable {
    func shutDownGracefully() {
        requestStop()
        // After the flag: a run that registers after this sees it and does not begin (`serveEndable`).
        let endRun = shared.withLock { shared in
            defer { shared.endRun = nil }
            return shared.endRun
        }
        endRun?()
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
        if recovered { publish(SupervisorEvent.recovered) }
    }

    func isWaiting(until instant: Int64) -> Bool {
        shared.withLock { $0.alarm.isPending(at: instant) || $0.recoveryDeadline == instant }
    }
}
