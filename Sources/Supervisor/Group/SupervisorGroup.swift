public import Logging
public import Metrics
@_spi(TestKit) public import ServiceLifecycle
import Synchronization

/// A supervisor of supervisors, as Erlang/OTP's: keeps an ordered list of children alive, each with its own
/// ``RestartPolicy``, and restarts the siblings its ``GroupStrategy`` names when one fails.
///
/// Children start in order, each once the one before it is ready (its `start()` returned; a nested group: all of its
/// children started), and stop in reverse order, each within its own policy's stop timeout. A child that fails is
/// started again by its own supervisor, after its own backoff; the group meanwhile stops the siblings the strategy
/// names (reverse order) and starts them again in order, those after the failed child once it is ready again. Every
/// failure counts toward the group's ``intensity``; one too many stops every child and escalates: a nested group
/// fails to its parent, which applies its own strategy; the root gives up (``run()`` throws ``SupervisorError``) or,
/// if its ``escalation`` degrades, starts everything again after each probe interval.
///
/// ```swift
/// let relay = try SupervisorGroup(
///     name: "relay",
///     strategy: .restForOne,   // the forwarders depend on the listener
///     intensity: try RestartIntensity(maxRestarts: 10, within: .seconds(60)),
///     children: [
///         .resource(listener, name: "listener", policy: listenerPolicy),
///         .service(metricsServer, name: "metrics"),
///     ]
/// )
/// try relay.add(.resource(forwarder, name: "stream-7", restart: .temporary))   // while it runs
/// print(relay.snapshot())
/// try await ServiceGroup(services: [relay], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
///
/// A swift-service-lifecycle `Service`: a graceful shutdown or the cancellation of its task stops every child in
/// reverse order. Its children see neither: only the group stops them, so that the order holds.
public final class SupervisorGroup: Service, Sendable {
    /// The group's path in its tree: its name, under its parent's path.
    public let name: String
    public let strategy: GroupStrategy
    /// At most this many child failures within the period, over all children; `nil` for no limit.
    public let intensity: RestartIntensity?
    /// What a root group does when its intensity trips: give up, or degrade. A nested group always fails to its
    /// parent instead.
    public let escalation: Escalation
    /// The most children the group holds at once; ``add(_:)`` refuses more.
    public let maxChildren: Int

    /// The cap on children, unless told otherwise.
    public static var defaultMaxChildren: Int { 100_000 }

    private let clock: any Clock<Duration>
    private let timeline: Timeline
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let metrics: GroupMetrics?
    /// The parent group, for a nested group.
    private let link: GroupLink?
    /// Reports from children and nudges from callers, carried out by the group's task in order.
    private let inbox = GroupInbox()
    /// Set once by a shutdown or a cancellation.
    private let stopping = Atomic(false)
    private let subscriberCount = Atomic(0)
    private let shared: Mutex<GroupShared>

    /// Creates a root group; nothing runs until ``run()``.
    ///
    /// - Parameters:
    ///   - name: the root of every path in the tree (`relay` → `relay/listener`).
    ///   - strategy: which siblings restart with a failed child.
    ///   - intensity: the most child failures within a period; past it the group escalates.
    ///   - escalation: what the root does when its intensity trips: ``Escalation/giveUp`` (``run()`` throws) or
    ///     ``Escalation/degrade(probeInterval:probeJitter:)`` (start everything again after each interval).
    ///   - maxChildren: the cap on children, static and added.
    ///   - children: started in this order.
    ///   - clock: the clock of the group and of every child's supervisor; tests pass a `TestClock`.
    ///   - generator: called once; each child's supervisor gets a generator seeded from it.
    ///   - logger: where the group and the children's supervisors log.
    ///   - metricsFactory: where the group's and the children's metrics go.
    /// - Throws: ``ConfigurationError`` for a cap below one or below the number of `children`, or two children with
    ///   the same name.
    public convenience init(
        name: String,
        strategy: GroupStrategy = .oneForOne,
        intensity: RestartIntensity? = nil,
        escalation: Escalation = .giveUp,
        maxChildren: Int = SupervisorGroup.defaultMaxChildren,
        children: [GroupChild],
        clock: any Clock<Duration> = ContinuousClock(),
        generator: @escaping @Sendable () -> any RandomNumberGenerator = { SystemRandomNumberGenerator() },
        logger: Logger = Logger(label: "supervisor"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ConfigurationError) {
        try Self.validate(maxChildren: maxChildren, children: children)
        var random = generator()
        self.init(
            path: name, strategy: strategy, intensity: intensity, escalation: escalation, maxChildren: maxChildren,
            children: children, clock: clock, seed: random.next(), logger: logger, metricsFactory: metricsFactory,
            link: nil)
    }

    /// A nested group, for one run of a child of its parent.
    convenience init(
        nested context: MemberContext, strategy: GroupStrategy, intensity: RestartIntensity?, maxChildren: Int,
        children: [GroupChild]
    ) {
        self.init(
            path: context.path, strategy: strategy, intensity: intensity, escalation: .giveUp,
            maxChildren: maxChildren, children: children, clock: context.clock, seed: context.seed,
            logger: context.logger, metricsFactory: context.metricsFactory, link: context.link)
    }

    private init(
        path: String, strategy: GroupStrategy, intensity: RestartIntensity?, escalation: Escalation,
        maxChildren: Int, children: [GroupChild], clock: any Clock<Duration>, seed: UInt64, logger: Logger,
        metricsFactory: any MetricsFactory, link: GroupLink?
    ) {
        self.name = path
        self.strategy = strategy
        self.intensity = intensity
        self.escalation = escalation
        self.maxChildren = maxChildren
        self.clock = clock
        self.timeline = Timeline.of(clock)
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.metrics = GroupMetrics.make(name: path, factory: metricsFactory)
        self.link = link
        var shared = GroupShared(
            machine: GroupStateMachine(strategy: strategy, intensity: intensity, maxChildren: maxChildren),
            random: SplitMix64(seed: seed))
        shared.reserveCapacity(children.count)
        for child in children { _ = shared.admit(child) }
        self.shared = Mutex(shared)
    }

    /// A group dropped without ``run()`` ends its subscriptions: nothing more will come.
    deinit {
        let subscribers = shared.withLock { shared in
            defer { shared.subscribers.removeAll() }
            return Array(shared.subscribers.values)
        }
        for continuation in subscribers { continuation.finish() }
    }

    /// Checks a group's children before it is made.
    static func validate(maxChildren: Int, children: [GroupChild]) throws(ConfigurationError) {
        guard maxChildren >= 1 else {
            throw ConfigurationError(.outOfRange, option: "maxChildren", "must be at least 1, got \(maxChildren)")
        }
        guard children.count <= maxChildren else {
            throw ConfigurationError(
                .inconsistent, option: "children", "\(children.count) children exceed maxChildren \(maxChildren)")
        }
        var names = Set<String>()
        for child in children where !names.insert(child.name).inserted {
            throw ConfigurationError(.inconsistent, option: "children", "two children are named '\(child.name)'")
        }
    }

    // MARK: - The API

    /// The group's own state: idle, starting until its children have started, ready, degraded after a root's
    /// escalation, stopped.
    public var state: SupervisorState {
        shared.withLock { $0.state }
    }

    /// Adds a child at the end, started after what the group is doing now (at once, in a settled group); before
    /// ``run()``, or while a degraded root waits for its next probe, it starts with the others. A removed child's
    /// name and place are free once the group has stopped it.
    ///
    /// - Throws: ``GroupError`` when the group holds ``maxChildren`` already, has a child of that name, or has
    ///   stopped.
    public func add(_ child: GroupChild) throws(GroupError) {
        let refusal = shared.withLock { shared -> GroupError.Code? in
            guard shared.ids[child.name] == nil else { return .duplicateName }
            guard !stopping.load(ordering: .acquiring), shared.takesChildren else { return .ended }
            return shared.admit(child) ? nil : .full
        }
        if let refusal { throw GroupError(refusal, group: name, child: child.name) }
        inbox.yield(.nudge)
    }

    /// Removes the child named `name`: the group stops it (after what it is doing now) and forgets it. Returns
    /// whether the group had such a child.
    @discardableResult
    public func remove(named name: String) -> Bool {
        let found = shared.withLock { shared -> Bool in
            guard let id = shared.ids.removeValue(forKey: name) else { return false }
            shared.machine.remove(id)
            if shared.machine.child(id) == nil { shared.setSpec(nil, of: id) }
            return true
        }
        if found { inbox.yield(.nudge) }
        return found
    }

    /// The nested group running now at `path` below this one (`streams`, `streams/live`), to add children to it or
    /// take its snapshot; `nil` when there is none running. A nested group that its parent restarts is a new
    /// group, which starts with the children the old one had (those added at run time too, temporary ones
    /// excepted): look it up again after a restart.
    ///
    /// ```swift
    /// try tree.group(at: "streams")?.add(.resource(forwarder, name: "live.1", restart: .transient))
    /// ```
    public func group(at path: String) -> SupervisorGroup? {
        var names = path.split(separator: "/", omittingEmptySubsequences: false)[...]
        guard let first = names.popFirst() else { return nil }
        let member = shared.withLock { shared in
            shared.ids[String(first)].flatMap { shared.running($0)?.member }
        }
        guard let group = member as? SupervisorGroup else { return nil }
        return names.isEmpty ? group : group.group(at: names.joined(separator: "/"))
    }

    /// The children a new run of this group starts with: those it has now, added ones included, except temporary
    /// ones and those leaving.
    func keptChildren() -> [GroupChild] {
        shared.withLock { shared in
            shared.machine.children.lazy.filter { !$0.leaving && $0.restart != .temporary }
                .compactMap { shared.entry($0.id)?.spec }
        }
    }

    /// The children and what each is doing now, nested groups included.
    public func snapshot() -> GroupSnapshot {
        let (state, rows) = shared.withLock { shared in
            let rows = shared.machine.children.map { child in
                let entry = shared.entry(child.id)
                return (child, entry?.spec, entry?.running?.member)
            }
            return (shared.state, rows)
        }
        let children = rows.compactMap { child, spec, member -> GroupSnapshot.Child? in
            guard let spec else { return nil }
            let status: GroupSnapshot.Status =
                switch child.state {
                case .stopped: .stopped
                case .starting: .starting
                case .running: .running
                case .restarting: .restarting
                case .stopping: .stopping
                }
            return GroupSnapshot.Child(
                name: spec.name, restart: spec.restart, significant: spec.significant, status: status,
                detail: member?.detail)
        }
        return GroupSnapshot(path: name, strategy: strategy, state: state, children: children)
    }

    /// The events of the tree from now on, each with its path, ending with the group's own
    /// ``SupervisorEvent/stopped(_:)``. A stream requested after the group stopped yields that event only.
    ///
    /// Bounded like ``ResourceSupervisor/events(bufferingPolicy:)``: a subscriber that falls behind loses the oldest
    /// events, and the group never waits for it. Children's events are made only while somebody subscribes.
    public func events(
        bufferingPolicy: AsyncStream<GroupEvent>.Continuation.BufferingPolicy = .bufferingNewest(
            ResourceSupervisor<ServiceResource<SupervisorGroup>>.eventBufferLimit)
    ) -> AsyncStream<GroupEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: GroupEvent.self, bufferingPolicy: bufferingPolicy)
        let finalReason = shared.withLock { shared -> SupervisorStopReason? in
            if case .stopped(let reason) = shared.state { return reason }
            let id = shared.nextSubscriber
            shared.nextSubscriber &+= 1
            shared.subscribers[id] = continuation
            subscriberCount.add(1, ordering: .relaxed)
            continuation.onTermination = { [weak self] _ in
                // Not under our lock from here, as for a supervisor's subscriptions (EventSubscriptionRaceTests).
                guard let self else { return }
                Task.detached {
                    let removed = self.shared.withLock { $0.subscribers.removeValue(forKey: id) != nil }
                    if removed { self.subscriberCount.subtract(1, ordering: .relaxed) }
                }
            }
            return nil
        }
        if let finalReason {
            continuation.yield(GroupEvent(path: name, event: .stopped(finalReason)))
            continuation.finish()
        }
        return stream
    }

    /// Supervises the children until shutdown (returns), a significant child's end (returns, or throws
    /// ``SupervisorError`` with code ``SupervisorError/Code/childFailed`` after its failure), or an escalation
    /// (throws ``SupervisorError`` with code ``SupervisorError/Code/intensityExceeded``; a degrading root starts
    /// again instead). A group runs once; a second call throws ``ConfigurationError``.
    public func run() async throws {
        let firstRun = shared.withLock { shared in
            defer { shared.hasRun = true }
            return !shared.hasRun
        }
        guard firstRun else {
            throw ConfigurationError(.inconsistent, option: "run()", "group \(name) has already run")
        }
        let manager = GracefulShutdownRelay.shared.join(self)
        await withTaskCancellationHandler {
            // The children must not see the graceful shutdown: each would stop at once, in no order.
            await TaskLocals.$gracefulShutdownManager.withValue(nil) {
                await supervise()
            }
        } onCancel: {
            requestStop()
        }
        if let manager { GracefulShutdownRelay.shared.leave(self, of: manager) }
        if case .stopped(.gaveUp(let error)) = state { throw error }
    }

    /// Stops every child in reverse order, then ends ``run()``.
    func requestStop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // A child still starting is the last one started: stopping it first keeps the reverse order, and a
        // shutdown need not wait for a slow start.
        let starting = shared.withLock { shared -> Task<Void, Never>? in
            shared.machine.shutdown()
            return shared.startingID.flatMap { shared.running($0)?.task }
        }
        starting?.cancel()
        inbox.yield(.nudge)
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Whether the children's starts wait for the group's permit (``awaitStart(of:serial:)``): only where the
    /// strategy orders a failed child's restart among its siblings'.
    private var gated: Bool { strategy != .oneForOne }

    /// A report from a child (through its ``GroupLink``).
    func report(_ input: GroupInput) {
        inbox.yield(input)
    }

    /// Whether anybody takes events: a subscriber here or above.
    var forwardsEvents: Bool {
        subscriberCount.load(ordering: .relaxed) > 0 || (link?.forwardsEvents ?? false)
    }

    /// Passes an event of the tree to the subscribers, and up to the parent.
    func publishChild(_ event: GroupEvent) {
        if subscriberCount.load(ordering: .relaxed) > 0 {
            shared.withLock { shared in
                for continuation in shared.subscribers.values { continuation.yield(event) }
            }
        }
        if let link, link.forwardsEvents { link.group.publishChild(event) }
    }

    // MARK: - The loop: carry out what the state machine decides

    private func supervise() async {
        var attempt = 0
        while true {
            attempt += 1
            begin(attempt: attempt)
            guard let escalated = await runChildren(attempt: attempt) else {
                finish(endReason())
                break
            }
            // A root that degrades starts everything again after the probe interval.
            guard link == nil, let probeInterval = escalation.probeInterval, !isStopping else {
                finish(.gaveUp(escalated))
                break
            }
            let delay = probeDelay(probeInterval)
            let deadline = timeline.now() + delay
            setState(.degraded(until: deadline), event: .degraded(probeInterval: probeInterval))
            log(.error, "restart intensity exceeded, degraded", ["probe-interval": "\(probeInterval)"])
            let probe = Task { [timeline, inbox] in
                try? await timeline.sleep(deadline, nil)
                inbox.yield(.probeDue)
            }
            while !isStopping {
                if case .probeDue = await inbox.next() { break }
            }
            probe.cancel()
            if isStopping {
                finish(.requested)
                break
            }
        }
    }

    /// Begins a run of every child: the first, or one after a degraded root's probe interval.
    private func begin(attempt: Int) {
        shared.withLock { shared in
            if attempt > 1 { shared.restartMachine() }
            // Stopping already: the machine finishes at once.
            if isStopping { shared.machine.shutdown() } else { shared.machine.begin() }
            shared.state = .starting(attempt: attempt)
        }
        publishOwn(.starting(attempt: attempt))
    }

    /// Carries out the machine's actions until it finishes (`nil`) or escalates (the error to report).
    private func runChildren(attempt: Int) async -> SupervisorError? {
        var announcedReady = false
        while true {
            let action = shared.withLock { $0.machine.next() }
            switch action {
            case .start(let id):
                start(id)
            case .stop(let id):
                // Cancellation is what stops a supervisor serving its resource.
                shared.withLock { $0.running(id)?.task }?.cancel()
            case .release(let id):
                grantStart(of: id)
            case .escalate:
                return escalationError()
            case .finish:
                return nil
            case .wait:
                if !announcedReady, shared.withLock({ $0.machine.isSettled }) {
                    announcedReady = true
                    setState(.ready, event: .ready(attempt: attempt))
                    log(.info, "ready", ["attempt": "\(attempt)"])
                    link?.ready()
                }
                apply(await inbox.next())
                cancelAbandonedStart()
                // Under oneForOne children start without asking: nothing to grant.
                let releases = shared.withLock { $0.machine.takeReleases() }
                if gated { for id in releases { grantStart(of: id) } }
            }
        }
    }

    /// Cancels the start in flight when nobody waits for it any more: the group escalates or shuts down (a
    /// significant child ended), or the child starting was removed. As a shutdown does, so that a slow start does
    /// not hold them back.
    private func cancelAbandonedStart() {
        let task = shared.withLock { shared -> Task<Void, Never>? in
            guard let id = shared.startingID,
                shared.machine.phase != .running || shared.machine.child(id)?.leaving != false
            else { return nil }
            return shared.running(id)?.task
        }
        task?.cancel()
    }

    /// Starts a fresh member for the child `id`, in a task of its own: not a child of the group's task, whose
    /// cancellation would reach every child at once, in no order.
    private func start(_ id: GroupStateMachine.ChildID) {
        guard
            let (spec, serial, seed, carried) = shared.withLock({
                shared -> (GroupChild, UInt64, UInt64, [GroupChild]?)? in
                guard let spec = shared.entry(id)?.spec else { return nil }
                defer { shared.nextSerial &+= 1 }
                // The member's first start goes at once: this is the group's start of it. Granted before its task
                // exists, which may ask at once.
                if gated { shared.startPermits[id] = .granted(serial: shared.nextSerial) }
                return (spec, shared.nextSerial, shared.random.next(), shared.carriedChildren.removeValue(forKey: id))
            })
        else { return }
        let path = "\(name)/\(spec.name)"
        let link = GroupLink(id: id, serial: serial, group: self)
        let member = spec.make(
            MemberContext(
                path: path, clock: clock, seed: seed, logger: logger, metricsFactory: metricsFactory, link: link,
                gated: gated, carriedChildren: carried))
        metrics?.children.increment()
        // The link carries the child's id and serial: the task's context holds two references.
        let task = Task { [link] in
            do {
                try await member.run()
                link.ended(nil)
            } catch {
                link.ended(error)
            }
        }
        shared.withLock { shared in
            shared.setRunning(GroupShared.Running(serial: serial, member: member, task: task), of: id)
            shared.startingID = id
        }
        // A shutdown that came since: the start ends as soon as it begins.
        if isStopping { task.cancel() }
    }

    // MARK: - Starts of children that restart themselves

    /// Lets the child `id`'s own supervisor start it again (see ``awaitStart(of:serial:)``).
    private func grantStart(of id: GroupStateMachine.ChildID) {
        let waiter = shared.withLock { shared -> UnsafeContinuation<Bool, Never>? in
            guard let serial = shared.running(id)?.serial else { return nil }
            if case .waiting(let waiting, let continuation) = shared.startPermits[id], waiting == serial {
                shared.startPermits[id] = nil
                return continuation
            }
            shared.startPermits[id] = .granted(serial: serial)
            return nil
        }
        waiter?.resume(returning: true)
    }

    /// Waits until the group lets the child `id` (its run `serial`) start: at once for the group's own start of it,
    /// and after a failure when the strategy says (under oneForAll and restForOne, once the siblings it names have
    /// stopped and those before it started). `false` when the waiting task was cancelled: the child is being
    /// stopped.
    func awaitStart(of id: GroupStateMachine.ChildID, serial: UInt64) async -> Bool {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
                let granted = shared.withLock { shared -> Bool in
                    if case .granted(let granted) = shared.startPermits[id], granted == serial {
                        shared.startPermits[id] = nil
                        return true
                    }
                    shared.startPermits[id] = .waiting(serial: serial, continuation)
                    return false
                }
                if granted {
                    continuation.resume(returning: true)
                }
                // Cancelled before waiting: the handler found nothing to end.
                else if withUnsafeCurrentTask(body: { $0?.isCancelled ?? false }) {
                    refuseStart(of: id, serial: serial)
                }
            }
        } onCancel: {
            refuseStart(of: id, serial: serial)
        }
    }

    /// Ends a wait of ``awaitStart(of:serial:)`` with `false`.
    private func refuseStart(of id: GroupStateMachine.ChildID, serial: UInt64) {
        let waiter = shared.withLock { shared -> UnsafeContinuation<Bool, Never>? in
            guard case .waiting(let waiting, let continuation) = shared.startPermits[id], waiting == serial else {
                return nil
            }
            shared.startPermits[id] = nil
            return continuation
        }
        waiter?.resume(returning: false)
    }

    /// Tells the machine what a child reported.
    private func apply(_ input: GroupInput) {
        switch input {
        case .ready(let id, let serial):
            shared.withLock { shared in
                guard shared.running(id)?.serial == serial else { return }
                if shared.startingID == id { shared.startingID = nil }
                shared.machine.ready(id)
            }
        case .restarting(let id, let serial, let error):
            let now = timeline.now()
            let counted = shared.withLock { shared -> Bool in
                guard shared.running(id)?.serial == serial else { return false }
                if shared.startingID == id { shared.startingID = nil }
                shared.failures &+= 1
                shared.lastFailure = error
                shared.machine.restarting(id, at: now)
                shared.forgetDeparted()
                return true
            }
            if counted { metrics?.restarts.increment() }
        case .ended(let id, let serial, let error):
            let now = timeline.now()
            let ended = shared.withLock { shared -> String? in
                guard let running = shared.running(id), running.serial == serial else { return nil }
                // A nested group started again starts with the children it has now, added ones included.
                if let group = running.member as? SupervisorGroup { shared.carriedChildren[id] = group.keptChildren() }
                shared.setRunning(nil, of: id)
                // Its task is over: nobody waits, and a permit left is for no one.
                shared.startPermits[id] = nil
                if shared.startingID == id { shared.startingID = nil }
                let stopping = shared.machine.child(id)?.state == .stopping
                if stopping {
                    shared.machine.stopped(id)
                } else {
                    if let error { shared.lastFailure = error }
                    shared.failures &+= 1
                    let wasRunning = shared.machine.phase == .running
                    shared.machine.ended(id, failed: error != nil, at: now)
                    // A significant child's failure ended the group: its run throws that failure.
                    if wasRunning, shared.machine.phase == .shuttingDown, let error {
                        shared.significantFailure = error
                    }
                    shared.forgetDeparted()
                }
                // A child that left (removed, temporary) is forgotten.
                if shared.machine.child(id) == nil { shared.forget(id) }
                return stopping ? nil : shared.entry(id)?.spec?.name ?? ""
            }
            metrics?.children.decrement()
            if let ended, let error {
                metrics?.restarts.increment()
                log(.warning, "child ended", ["child": "\(ended)", "error": "\(error)"])
            }
        case .nudge, .probeDue:
            break
        }
    }

    /// Why the group finished: asked to, or a significant child ended (normally, or with a failure it throws).
    private func endReason() -> SupervisorStopReason {
        let (failure, failures) = shared.withLock { ($0.significantFailure, $0.failures) }
        if let failure, !isStopping {
            return .gaveUp(
                SupervisorError(code: .childFailed, name: name, lastFailure: failure, phase: .run, failures: failures))
        }
        return isStopping ? .requested : .completed
    }

    /// The error a group reports when its intensity trips.
    private func escalationError() -> SupervisorError {
        metrics?.escalations.increment()
        let (failure, failures) = shared.withLock { ($0.lastFailure, $0.failures) }
        log(.error, "restart intensity exceeded", ["intensity": "\(intensity.map { "\($0)" } ?? "none")"])
        return SupervisorError(
            code: .intensityExceeded, name: name, lastFailure: failure ?? GroupIntensityExceeded(), phase: .run,
            failures: failures)
    }

    private func probeDelay(_ probeInterval: Duration) -> Duration {
        guard let jitter = escalation.probeJitter, jitter != .none else { return probeInterval }
        let seconds = shared.withLock { jitter.apply(to: probeInterval.inSeconds, using: &$0.random) }
        return .delay(seconds: seconds)
    }

    // MARK: - Reporting

    private func setState(_ state: SupervisorState, event: SupervisorEvent) {
        shared.withLock { $0.state = state }
        publishOwn(event)
    }

    private func publishOwn(_ event: SupervisorEvent) {
        if subscriberCount.load(ordering: .relaxed) > 0 || link != nil {
            publishChild(GroupEvent(path: name, event: event))
        }
    }

    /// The group is over: its last event, and the end of every subscription.
    private func finish(_ reason: SupervisorStopReason) {
        let subscribers = shared.withLock { shared in
            shared.state = .stopped(reason)
            defer { shared.subscribers.removeAll() }
            return Array(shared.subscribers.values)
        }
        let event = GroupEvent(path: name, event: .stopped(reason))
        for continuation in subscribers {
            continuation.yield(event)
            continuation.finish()
        }
        if let link, link.forwardsEvents { link.group.publishChild(event) }
        if case .gaveUp = reason {
            log(.error, "gave up", ["reason": "\(reason)"])
        } else {
            log(.info, "stopped", ["reason": "\(reason)"])
        }
    }

    private func log(_ level: Logger.Level, _ message: Logger.Message, _ metadata: @autoclosure () -> Logger.Metadata) {
        guard logger.logLevel <= level else { return }
        var metadata = metadata()
        metadata["group"] = "\(name)"
        logger.log(level: level, message, metadata: metadata)
    }
}

extension SupervisorGroup: GracefullyStoppable {
    func shutDownGracefully() {
        requestStop()
    }
}

extension SupervisorGroup: GroupMember {
    var detail: GroupSnapshot.Detail { .group(snapshot()) }
}

/// What the group's task is told.
enum GroupInput: Sendable {
    case ready(GroupStateMachine.ChildID, serial: UInt64)
    /// The child failed with `error` and its own supervisor starts it again.
    case restarting(GroupStateMachine.ChildID, serial: UInt64, error: any Error)
    /// The child's member returned (`error == nil`) or threw.
    case ended(GroupStateMachine.ChildID, serial: UInt64, error: (any Error)?)
    /// Children were added or removed, or a shutdown was asked for: ask the machine again.
    case nudge
    /// A degraded root's probe interval is over.
    case probeDue
}

/// The last failure a group reports when its intensity trips with none recorded (only children that ended without
/// an error, each started again, counted).
struct GroupIntensityExceeded: Error, CustomStringConvertible {
    var description: String { "too many child restarts" }
}

/// Whether a child's own supervisor may start it now (``SupervisorGroup/awaitStart(of:serial:)``).
enum StartPermit {
    /// It may, once: the group's start of it, or a release after a failure.
    case granted(serial: UInt64)
    /// It asks, and waits.
    case waiting(serial: UInt64, UnsafeContinuation<Bool, Never>)
}

/// The mutable part of a group, behind one lock.
struct GroupShared: ~Copyable {
    struct Running {
        let serial: UInt64
        let member: any GroupMember
        /// Cancelled to stop the member.
        let task: Task<Void, Never>
    }

    /// What the group keeps of one child besides the machine's view: its description while it belongs to the group,
    /// its member while one runs.
    struct Entry {
        let id: GroupStateMachine.ChildID
        var spec: GroupChild?
        var running: Running?
    }

    var machine: GroupStateMachine
    /// Every child that has a description or a running member, sorted by id (ids grow with the order children
    /// are added in): one array, not a dictionary for each, which would cost a child twice its entry in buckets.
    private(set) var entries: [Entry] = []
    /// The ids of the children by name, for `remove(named:)`.
    var ids: [String: GroupStateMachine.ChildID] = [:]
    var random: SplitMix64
    var nextSerial: UInt64 = 0
    /// The child whose start is in flight.
    var startingID: GroupStateMachine.ChildID?
    /// Child failures so far, and the last error one reported.
    var failures = 0
    var lastFailure: (any Error)?
    /// The failure of the significant child that ended the group, if one did.
    var significantFailure: (any Error)?
    /// The children each nested group had when it last ended, for its next start (see `keptChildren()`).
    var carriedChildren: [GroupStateMachine.ChildID: [GroupChild]] = [:]
    /// Whether each child's own supervisor may start it: granted before it asks, or its wait. Only for children
    /// between a failure and their next start, and each one's first start.
    var startPermits: [GroupStateMachine.ChildID: StartPermit] = [:]
    var hasRun = false
    var state = SupervisorState.idle
    var nextSubscriber: UInt32 = 0
    var subscribers: [UInt32: AsyncStream<GroupEvent>.Continuation] = [:]

    init(machine: GroupStateMachine, random: SplitMix64) {
        self.machine = machine
        self.random = random
    }

    /// Whether ``SupervisorGroup/add(_:)`` may add a child: before the run, while it runs, and while a degraded
    /// root waits for its next probe (the child starts with the others then).
    var takesChildren: Bool {
        switch machine.phase {
        case .idle, .running: true
        case .ended: if case .degraded = state { true } else { false }
        case .shuttingDown, .escalating: false
        }
    }

    /// Makes room for `count` children at once: an array grown one child at a time ends up to twice their size.
    mutating func reserveCapacity(_ count: Int) {
        machine.reserveCapacity(count)
        entries.reserveCapacity(count)
    }

    /// Adds `child` to the machine; `false` when it is full.
    mutating func admit(_ child: GroupChild) -> Bool {
        guard let id = machine.add(child.restart, significant: child.significant) else { return false }
        // Ids grow: the new child goes last.
        entries.append(Entry(id: id, spec: child))
        ids[child.name] = id
        return true
    }

    /// Forgets the children the machine dropped without a report: their names are free again.
    mutating func forgetDeparted() {
        for id in machine.takeDeparted() { forget(id) }
    }

    /// Forgets the description of the child `id`, which left the group: its name is free again.
    mutating func forget(_ id: GroupStateMachine.ChildID) {
        guard let spec = entry(id)?.spec else { return }
        setSpec(nil, of: id)
        if ids[spec.name] == id { ids[spec.name] = nil }
    }

    /// What the group keeps of the child `id`, if anything.
    func entry(_ id: GroupStateMachine.ChildID) -> Entry? {
        index(of: id).map { entries[$0] }
    }

    /// The member running for the child `id`, if one runs.
    func running(_ id: GroupStateMachine.ChildID) -> Running? {
        index(of: id).flatMap { entries[$0].running }
    }

    /// Sets or clears the description of the child `id`; an entry with neither a description nor a member goes.
    mutating func setSpec(_ spec: GroupChild?, of id: GroupStateMachine.ChildID) {
        guard let index = index(of: id) else { return }
        entries[index].spec = spec
        if spec == nil, entries[index].running == nil { entries.remove(at: index) }
    }

    /// Sets or clears the member running for the child `id`, which the group holds a description of until the
    /// member ends.
    mutating func setRunning(_ running: Running?, of id: GroupStateMachine.ChildID) {
        let position = position(of: id)
        guard position < entries.endIndex, entries[position].id == id else {
            // A member of a child the group forgot meanwhile: kept all the same, so that it can be stopped.
            if let running { entries.insert(Entry(id: id, running: running), at: position) }
            return
        }
        entries[position].running = running
        if running == nil, entries[position].spec == nil { entries.remove(at: position) }
    }

    private func index(of id: GroupStateMachine.ChildID) -> Int? {
        let position = position(of: id)
        return position < entries.endIndex && entries[position].id == id ? position : nil
    }

    /// Binary search: where the entry of `id` is or would go; `entries` is sorted by id.
    private func position(of id: GroupStateMachine.ChildID) -> Int {
        var (low, high) = (entries.startIndex, entries.endIndex)
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// A fresh machine with the children that stay (temporary ones left at the escalation), in their order.
    mutating func restartMachine() {
        let kept = machine.children.compactMap { child in entry(child.id)?.spec.map { (child.id, $0) } }
            .filter { $0.1.restart != .temporary }
        let carried = carriedChildren
        machine = GroupStateMachine(
            strategy: machine.strategy, intensity: machine.intensity, maxChildren: machine.maxChildren)
        (entries, ids, startingID, startPermits, carriedChildren) = ([], [:], nil, [:], [:])
        reserveCapacity(kept.count)
        for (oldID, child) in kept where admit(child) {
            // New ids: a nested group's children go with it to its new id.
            if let children = carried[oldID], let newID = ids[child.name] { carriedChildren[newID] = children }
        }
    }
}
