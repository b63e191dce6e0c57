/// The decisions of a supervision group, with no clock and no I/O: which child to start or stop next, when the group
/// fails to its parent, when it ends. Its runner carries out one action at a time and reports back.
///
/// Children keep the order they were added in; ids grow with that order, so the list is sorted by id. The group
/// starts its children in order, each only once the one before it is ready, and stops them in reverse order, one
/// after the other. When a child ends on its own, its ``ChildRestart`` says whether it starts again, and the
/// ``GroupStrategy`` says which of its siblings go with it; every such restart counts toward the group's
/// ``RestartIntensity``, and one too many stops every child and escalates. A significant child's normal end ends the
/// group (OTP's auto-shutdown).
///
/// ```swift
/// let intensity = try RestartIntensity(maxRestarts: 3, within: .seconds(5))
/// var machine = GroupStateMachine(strategy: .restForOne, intensity: intensity)
/// let listener = machine.add(.permanent)!, forwarder = machine.add(.permanent)!
/// machine.begin()
/// machine.next()                       // .start(listener)
/// machine.ready(listener)
/// machine.next()                       // .start(forwarder)
/// ```
struct GroupStateMachine: Sendable {
    typealias ChildID = Int

    /// Where a child is, as the group sees it.
    enum ChildState: Hashable, Sendable {
        case stopped
        /// Its start was asked for and has not reported ready (or ended) yet.
        case starting
        case running
        /// It failed and its own supervisor is starting it again (after its backoff); it reports ``ready(_:)`` or
        /// ``ended(_:failed:at:)`` by itself, and the group may stop it meanwhile.
        case restarting
        /// Its stop was asked for and has not reported yet.
        case stopping
    }

    struct Child: Hashable, Sendable {
        let id: ChildID
        let restart: ChildRestart
        /// Whether its normal end ends the group.
        let significant: Bool
        var state = ChildState.stopped
        /// Removed from the group: stopped (if it runs), then forgotten.
        var leaving = false
    }

    /// What the runner does next.
    enum Action: Hashable, Sendable {
        /// Start this child; report ``ready(_:)`` or ``ended(_:failed:at:)``.
        case start(ChildID)
        /// Stop this child; report ``stopped(_:)``.
        case stop(ChildID)
        /// Let this child, which failed and restarts itself, start again now (its own backoff still holds); it
        /// reports ``ready(_:)`` or ``ended(_:failed:at:)``. Nothing after it goes until it does.
        case release(ChildID)
        /// Every child is stopped and the group's restart intensity tripped: fail to the parent.
        case escalate
        /// Every child is stopped: the group ends (a shutdown, or a significant child's normal end).
        case finish
        /// Nothing until a child reports.
        case wait
    }

    enum Phase: Hashable, Sendable {
        /// Not begun: children added now start at ``begin()``.
        case idle
        case running
        /// Stopping every child before ``Action/finish``.
        case shuttingDown
        /// Stopping every child before ``Action/escalate``.
        case escalating
        /// Finished or escalated; nothing more happens.
        case ended
    }

    private enum Step: Hashable, Sendable {
        case start(ChildID)
        case stop(ChildID)
        /// Wait until a child that restarts itself is ready: the children after it depend on it.
        case await(ChildID)
    }

    let strategy: GroupStrategy
    let intensity: RestartIntensity?
    /// The most children the group holds at once; ``add(_:significant:)`` refuses more.
    let maxChildren: Int
    private(set) var children: [Child] = []
    private(set) var phase = Phase.idle
    /// What is to be done, in order; one step runs at a time.
    private var plan: [Step] = []
    private var planStart = 0
    private var inFlight: Step?
    private var nextID = 0
    private var window = RestartWindow()
    /// Children that left without a report of their own: temporary ones that a restart dropped before they started.
    /// The runner takes them with ``takeDeparted()`` to forget their descriptions.
    private var departed: [ChildID] = []
    /// Children that restart themselves and may start again at once, whatever the group is doing: under
    /// oneForOne nothing waits for them. The runner takes them with ``takeReleases()``.
    private var releases: [ChildID] = []

    init(strategy: GroupStrategy, intensity: RestartIntensity? = nil, maxChildren: Int = .max) {
        self.strategy = strategy
        self.intensity = intensity
        self.maxChildren = maxChildren
    }

    /// Whether the group runs with nothing to do until a child reports: every start so far is done.
    var isSettled: Bool {
        phase == .running && inFlight == nil && planStart >= plan.count
    }

    /// The child with `id`, if it is in the group.
    func child(_ id: ChildID) -> Child? {
        index(of: id).map { children[$0] }
    }

    /// Makes room for `count` children, to add them without growing the list one doubling at a time.
    mutating func reserveCapacity(_ count: Int) {
        children.reserveCapacity(count)
    }

    // MARK: - Inputs

    /// Adds a child at the end; it starts at ``begin()``, or after the steps already planned when the group runs.
    /// `nil` when the group is full or is stopping.
    mutating func add(_ restart: ChildRestart, significant: Bool = false) -> ChildID? {
        // Ended too: a degraded root keeps its children for its next run (the runner decides who may add).
        guard phase == .idle || phase == .running || phase == .ended, children.count < maxChildren else { return nil }
        let id = nextID
        nextID += 1
        children.append(Child(id: id, restart: restart, significant: significant))
        if phase == .running { plan.append(.start(id)) }
        return id
    }

    /// Removes a child: stopped after the steps already planned if it runs, forgotten at once otherwise.
    mutating func remove(_ id: ChildID) {
        guard let index = index(of: id) else { return }
        switch children[index].state {
        case .stopped:
            children.remove(at: index)
        case .starting, .running, .restarting:
            children[index].leaving = true
            // Nobody waits for a child that leaves.
            if inFlight == .await(id) { inFlight = nil }
            plan.append(.stop(id))
        case .stopping:
            children[index].leaving = true
        }
    }

    /// Starts every child in order.
    mutating func begin() {
        guard phase == .idle else { return }
        phase = .running
        plan = children.map { .start($0.id) }
        planStart = 0
    }

    /// Stops every child in reverse order, then finishes.
    mutating func shutdown() {
        guard phase == .idle || phase == .running || phase == .escalating else { return }
        phase = .shuttingDown
        replanStopping(children.indices)
    }

    /// The child asked to start is ready.
    mutating func ready(_ id: ChildID) {
        guard let index = index(of: id) else { return }
        let state = children[index].state
        if state == .starting || state == .restarting { children[index].state = .running }
        if inFlight == .start(id) || inFlight == .await(id) { inFlight = nil }
    }

    /// The child failed at `now` and its own supervisor starts it again once the group lets it (``Action/release(_:)``,
    /// or ``takeReleases()`` under oneForOne): it reports ``ready(_:)`` when it is. The failure counts toward the
    /// group's intensity like an end, and the strategy stops its siblings; the child is let go once they are stopped
    /// and those before it started, and those after it start only once it is ready again. A temporary child is
    /// stopped instead, and leaves. A child whose start fails again on its way back is let go again.
    mutating func restarting(_ id: ChildID, at now: Duration) {
        guard let index = index(of: id) else { return }
        let state = children[index].state
        guard state == .starting || state == .running || state == .restarting else { return }
        // Its start failed again, on its way back: it is restarting still.
        let again = state == .restarting
        children[index].state = .restarting
        // A start that failed: what comes after it still waits for it, now on its way back.
        if inFlight == .start(id) { inFlight = .await(id) }
        guard phase == .running, !children[index].leaving else {
            if inFlight == .await(id) { inFlight = nil }
            return
        }
        guard children[index].restart.restarts(afterFailure: true) else {
            children[index].leaving = true
            if inFlight == .await(id) { inFlight = nil }
            plan.append(.stop(id))
            return
        }
        if let intensity, !window.admit(at: now, within: intensity) {
            phase = .escalating
            replanStopping(children.indices)
            return
        }
        if again {
            // Whoever waits for it waits on; it may try again once it was let go (or when the plan gets to it).
            if strategy == .oneForOne || inFlight == .await(id) { releases.append(id) }
            return
        }
        switch strategy.kind {
        // No sibling goes with it, and it may start again at once.
        case .oneForOne: releases.append(id)
        case .oneForAll: replanRestarting(from: children.startIndex, awaiting: id)
        case .restForOne: replanRestarting(from: index, awaiting: id)
        }
    }

    /// The child asked to stop has stopped.
    mutating func stopped(_ id: ChildID) {
        guard let index = index(of: id) else { return }
        children[index].state = .stopped
        if inFlight == .stop(id) { inFlight = nil }
        if children[index].leaving { children.remove(at: index) }
    }

    /// The child ended on its own at `now` (its run returned or failed, or its own supervisor gave up), `failed` or
    /// not. During a stop of that child, this is the stop's end.
    mutating func ended(_ id: ChildID, failed: Bool, at now: Duration) {
        // A child already stopped cannot end again: a late report of one is ignored.
        guard let index = index(of: id), children[index].state != .stopped else { return }
        let wasStopping = children[index].state == .stopping
        // Ended before it was ever ready in this plan: the children after it still wait for it.
        let heldBack = inFlight == .start(id) || inFlight == .await(id)
        children[index].state = .stopped
        if heldBack || inFlight == .stop(id) { inFlight = nil }
        if children[index].leaving {
            children.remove(at: index)
            return
        }
        guard !wasStopping, phase == .running else { return }
        let child = children[index]
        // A significant child that is not started again ends the group, as OTP's auto-shutdown: a transient one
        // after a normal end, a temporary one after any.
        if child.significant, !child.restart.restarts(afterFailure: failed) {
            shutdown()
            return
        }
        guard child.restart.restarts(afterFailure: failed) else {
            // A temporary child leaves when it ends; a transient one that returned stays, stopped.
            if child.restart == .temporary { children.remove(at: index) }
            return
        }
        if let intensity, !window.admit(at: now, within: intensity) {
            phase = .escalating
            replanStopping(children.indices)
            return
        }
        switch strategy.kind {
        // Its new start takes its place in the order, ahead of the later children's starts, if they wait for it.
        case .oneForOne: plan.insert(.start(id), at: heldBack ? planStart : plan.endIndex)
        case .oneForAll: replanRestarting(from: children.startIndex)
        case .restForOne: replanRestarting(from: index)
        }
    }

    /// The next action, once the one before it reported.
    mutating func next() -> Action {
        guard inFlight == nil else { return .wait }
        while planStart < plan.count {
            let step = plan[planStart]
            planStart += 1
            switch step {
            case .start(let id):
                guard phase == .running, let index = index(of: id), children[index].state == .stopped,
                    !children[index].leaving
                else { continue }
                children[index].state = .starting
                inFlight = step
                return .start(id)
            case .stop(let id):
                guard let index = index(of: id),
                    children[index].state == .running || children[index].state == .restarting
                else { continue }
                children[index].state = .stopping
                inFlight = step
                return .stop(id)
            case .await(let id):
                guard phase == .running, let index = index(of: id), children[index].state == .restarting,
                    !children[index].leaving
                else { continue }
                inFlight = step
                return .release(id)
            }
        }
        plan.removeAll(keepingCapacity: true)
        planStart = 0
        switch phase {
        case .shuttingDown:
            phase = .ended
            return .finish
        case .escalating:
            phase = .ended
            return .escalate
        case .idle, .running, .ended:
            return .wait
        }
    }

    // MARK: - Plans

    /// Replaces the plan with stops of the children at `indices` that run or start, in reverse order.
    private mutating func replanStopping(_ indices: Range<Int>) {
        // A wait for a child to be ready is no runner's action: the stops need not wait for it.
        if case .await = inFlight { inFlight = nil }
        plan = indices.reversed().compactMap { index in
            let child = children[index]
            return child.state == .stopped || child.state == .stopping ? nil : .stop(child.id)
        }
        planStart = 0
    }

    /// The children from `first` on: the running ones stopped in reverse order, then every one of them started again
    /// in order; temporary ones leave instead. The `awaiting` child restarts itself: it is not stopped, and its place
    /// in the order waits for it to be ready. Pending starts and waits of those children are superseded, the rest of
    /// the plan (starts of earlier children, stops of leaving ones) goes first.
    private mutating func replanRestarting(from first: Int, awaiting: ChildID? = nil) {
        let affected = Set(children[first...].map(\.id))
        if case .await(let id) = inFlight, affected.contains(id) { inFlight = nil }
        var kept: [Step] = plan[planStart...].filter { step in
            switch step {
            case .start(let id), .await(let id): !affected.contains(id)
            case .stop: true
            }
        }
        for index in children.indices[first...] where children[index].restart == .temporary {
            children[index].leaving = true
        }
        kept += children.indices[first...].reversed().compactMap { index in
            let child = children[index]
            guard child.id != awaiting, child.state != .stopped, child.state != .stopping else { return nil }
            return .stop(child.id)
        }
        kept += children[first...].filter { !$0.leaving }.map { $0.id == awaiting ? .await($0.id) : .start($0.id) }
        // Temporary children already stopped leave at once.
        departed += children.lazy.filter { $0.leaving && $0.state == .stopped }.map(\.id)
        children.removeAll { $0.leaving && $0.state == .stopped }
        plan = kept
        planStart = 0
    }

    /// The children that may start again now, since the last call: they failed under oneForOne (see `releases`).
    mutating func takeReleases() -> [ChildID] {
        guard !releases.isEmpty else { return [] }
        defer { releases.removeAll() }
        return releases
    }

    /// The children that left without a report since the last call (see `departed`).
    mutating func takeDeparted() -> [ChildID] {
        guard !departed.isEmpty else { return [] }
        defer { departed.removeAll() }
        return departed
    }

    /// Binary search: ids grow with the order of `children`.
    private func index(of id: ChildID) -> Int? {
        var (low, high) = (children.startIndex, children.endIndex)
        while low < high {
            let middle = (low + high) / 2
            if children[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low < children.endIndex && children[low].id == id ? low : nil
    }
}
