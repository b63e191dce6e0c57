import Clocks
import Logging
import ServiceLifecycle
import Supervisor
import Synchronization
import Testing

/// What a user of a supervision group expects and does not get: each test states the promise, as the doc comments
/// or Erlang/OTP make it. Children are `Switchboard` resources on an immediate clock, some with a `Gate` that holds
/// a start or a stop until the test opens it.
@Suite("Supervisor group, attacked")
struct GroupAttackTests {
    static let quiet = SupervisorGroupTests.quiet

    /// Whether `condition` holds within `milliseconds` of real time; polls every millisecond.
    static func eventually(within milliseconds: Int, _ condition: () -> Bool) async -> Bool {
        for _ in 0..<milliseconds {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    /// How many times the journal has `entry`.
    static func count(_ board: Switchboard, _ entry: String) -> Int {
        board.journal.filter { $0 == entry }.count
    }

    /// `name` from the board, its starts held by `startGate` and its stops by `stopGate`.
    static func gated(
        _ board: Switchboard, _ name: String, startGate: Gate? = nil, stopGate: Gate? = nil
    ) -> RestartableResource<String> {
        let base = board.resource(name)
        return RestartableResource(
            start: {
                await startGate?.pass()
                return try await base.start()
            },
            run: { try await base.run($0) },
            stop: {
                await stopGate?.pass()
                await base.stop($0)
            })
    }

    @Test(
        "a transient child whose run returns stays stopped, with its default policy")
    func transientChildStaysStoppedAfterNormalReturn() async throws {
        let board = Switchboard()
        let group = try SupervisorGroup(
            name: "root",
            children: [
                .resource(board.resource("a"), name: "a"),
                .resource(board.resource("t"), name: "t", restart: .transient),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "t"].allSatisfy($0.isRunning) }
        board.complete("t")
        // ChildRestart: "transient: only after a failure; a normal return leaves it stopped."
        let stopped = await Self.eventually(within: 500) { group.snapshot().children.last?.status == .stopped }
        #expect(stopped, "snapshot: \(group.snapshot())")
        #expect(Self.count(board, "start t") == 1, "journal: \(board.journal)")
        run.cancel()
        try await run.value
    }

    @Test(
        "a significant child's normal end ends the group, with its default policy")
    func significantChildEndsGroupWithDefaultPolicy() async throws {
        let board = Switchboard()
        let group = try SupervisorGroup(
            name: "root",
            children: [
                .resource(board.resource("a"), name: "a"),
                .resource(board.resource("job"), name: "job", restart: .transient, significant: true),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "job"].allSatisfy($0.isRunning) }
        board.complete("job")
        let ended = await Self.eventually(within: 500) {
            if case .stopped = group.state { true } else { false }
        }
        #expect(ended, "state: \(group.state); journal: \(board.journal)")
        run.cancel()
        try await run.value
    }

    @Test(
        "a temporary child that fails is never started again")
    func temporaryChildNotStartedAgainAfterFailure() async throws {
        let board = Switchboard()
        let gate = Gate()
        let group = try SupervisorGroup(
            name: "root",
            children: [
                .resource(board.resource("a"), name: "a"),
                .resource(board.resource("t"), name: "t", restart: .temporary),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "t"].allSatisfy($0.isRunning) }
        // The group is busy with a slow start when t fails.
        try group.add(.resource(Self.gated(board, "slow", startGate: gate), name: "slow"))
        await board.waitUntil("the slow start begun") { _ in gate.waiting > 0 }
        board.fail("t")
        let restarted = await Self.eventually(within: 300) { Self.count(board, "start t") > 1 }
        #expect(!restarted, "journal: \(board.journal)")
        gate.open()
        await board.waitUntil("slow running") { $0.isRunning("slow") }
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }

    @Test(
        "oneForAll: the failed child starts again only after the siblings before it were restarted")
    func oneForAllStartsFailedChildAfterEarlierSiblings() async throws {
        let board = Switchboard()
        let gate = Gate()
        // No stop timeout: on an immediate clock any stop that suspends would outlast one.
        let policy = try RestartPolicy(stopTimeout: nil)
        let group = try SupervisorGroup(
            name: "root", strategy: .oneForAll,
            children: [
                .resource(Self.gated(board, "a", stopGate: gate), name: "a", policy: policy),
                .resource(board.resource("b"), name: "b"),
                .resource(board.resource("c"), name: "c"),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "b", "c"].allSatisfy($0.isRunning) }
        board.fail("b")
        // c is stopped, then a's stop is held: a, which b depends on, is not back yet.
        await board.waitUntil("a's stop begun") { _ in gate.waiting > 0 }
        // GroupStrategy.oneForAll: "the others are stopped in reverse order, then all start again in order".
        let early = await Self.eventually(within: 300) { Self.count(board, "start b") > 1 }
        #expect(!early, "b started again before a was: \(board.journal)")
        gate.open()
        await board.waitUntil("all back") {
            ["a", "b", "c"].allSatisfy($0.isRunning) && Self.count($0, "start a") == 2
        }
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }

    @Test("a temporary child dropped by a restart before it started frees its name")
    func temporaryChildDroppedByRestartFreesName() async throws {
        let board = Switchboard()
        let gate = Gate()
        let group = try SupervisorGroup(
            name: "root", strategy: .oneForAll,
            children: [
                .resource(board.resource("a"), name: "a"),
                .resource(Self.gated(board, "h", startGate: gate), name: "h"),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("h starting") { _ in gate.waiting > 0 }
        // Added while h starts: t waits for its turn, stopped.
        try group.add(.resource(board.resource("t"), name: "t", restart: .temporary))
        board.fail("a")
        // The restart of every child drops t, a temporary child, before it ever started.
        await board.waitUntil("t dropped") { _ in group.snapshot().children.map(\.name) == ["a", "h"] }
        gate.open()
        await board.waitUntil("all running") { ["a", "h"].allSatisfy($0.isRunning) }
        await board.waitUntil("ready") { _ in group.state.isReady }
        #expect(!group.snapshot().children.contains { $0.name == "t" })
        #expect(throws: Never.self) { try group.add(.resource(board.resource("t"), name: "t")) }
        run.cancel()
        try await run.value
    }

    @Test("a degraded root takes new children, and starts them when it comes back")
    func degradedRootAcceptsChildren() async throws {
        let board = Switchboard()
        let clock = TestClock()
        let group = try SupervisorGroupTests.group(
            board, ["a"], intensity: try RestartIntensity(maxRestarts: 0, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none), clock: clock)
        let run = Task { try await group.run() }
        await board.waitUntil("a running") { $0.isRunning("a") }
        board.fail("a")
        await board.waitUntil("degraded") { _ in if case .degraded = group.state { true } else { false } }
        // GroupError.ended: "The group is stopping or has stopped"; this one does neither.
        #expect(throws: Never.self) { try group.add(.resource(board.resource("s"), name: "s")) }
        #expect(group.snapshot().children.map(\.name) == ["a", "s"])
        // The probe may not be asleep on the clock yet: the clock moves until the children are back.
        for _ in 0..<100 where !["a", "s"].allSatisfy(board.isRunning) {
            await clock.advance(by: .seconds(1))
            try await Task.sleep(for: .milliseconds(5))
        }
        await board.waitUntil("a and s running") { ["a", "s"].allSatisfy($0.isRunning) }
        run.cancel()
        try await run.value
    }

    @Test("a group or a supervisor given as a service child is refused at construction: each runs once")
    func supervisorAsServiceChildRefused() throws {
        let board = Switchboard()
        // A child is started again with a fresh member; these run once, so a restart would throw "has already run".
        let streams = try SupervisorGroup(
            name: "streams", children: [.resource(board.resource("p"), name: "p")], logger: Self.quiet)
        let error = #expect(throws: ConfigurationError.self) { try GroupChild.service(streams, name: "streams") }
        #expect(error?.message.contains("group(") == true, "\(String(describing: error))")
        let supervisor = ResourceSupervisor(board.resource("q"), name: "q", logger: Self.quiet)
        #expect(throws: ConfigurationError.self) { try GroupChild.service(supervisor, name: "q") }
    }

    @Test("an escalation names the child failure that tripped it")
    func escalationNamesLastFailure() async throws {
        let board = Switchboard()
        let group = try SupervisorGroupTests.group(
            board, ["a", "b"], intensity: try RestartIntensity(maxRestarts: 0, within: .seconds(60)))
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "b"].allSatisfy($0.isRunning) }
        board.fail("b")
        let error = await #expect(throws: SupervisorError.self) { try await run.value }
        #expect(error?.lastFailure is Switchboard.Failure, "last failure: \(String(describing: error?.lastFailure))")
    }

    @Test("an escalation does not wait for a sibling's start to finish")
    func escalationCancelsStartInFlight() async throws {
        let board = Switchboard()
        let slow = board.resource("slow")
        // A start that takes an hour unless cancelled, as a connect with a long timeout.
        let hanging = RestartableResource<String>(
            start: {
                try await Task.sleep(for: .seconds(3_600))
                return try await slow.start()
            },
            run: { try await slow.run($0) }, stop: { await slow.stop($0) })
        let group = try SupervisorGroup(
            name: "root", intensity: try RestartIntensity(maxRestarts: 0, within: .seconds(60)),
            children: [.resource(board.resource("a"), name: "a"), .resource(hanging, name: "slow")],
            clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("a running") { $0.isRunning("a") }
        await board.waitUntil("slow starting") { _ in group.snapshot().children.last?.status == .starting }
        board.fail("a")
        let ended = await Self.eventually(within: 1_000) {
            if case .stopped = group.state { true } else { false }
        }
        #expect(ended, "state: \(group.state); journal: \(board.journal)")
        // A shutdown does cancel the start: it ends the test either way.
        run.cancel()
        let error = await #expect(throws: SupervisorError.self) { try await run.value }
        #expect(error?.code == .intensityExceeded)
        #expect(board.live.isEmpty)
    }

    @Test("the events of a group dropped without run() end")
    func eventsEndWhenGroupDropped() async throws {
        let board = Switchboard()
        var group: SupervisorGroup? = try SupervisorGroupTests.group(board, ["a"])
        guard let events = group?.events() else { return }
        // A start-up that fails after subscribing: the group is never run, and dropped.
        group = nil
        let ended = Gate()
        let reader = Task {
            for await _ in events {}
            ended.open()
        }
        let done = await Self.eventually(within: 500) { ended.isOpen }
        #expect(done, "the subscriber still waits")
        reader.cancel()
        await reader.value
    }

    @Test("removing a child whose start is slow does not wait for the start")
    func removeCancelsStartInFlight() async throws {
        let board = Switchboard()
        let slow = board.resource("slow")
        let hanging = RestartableResource<String>(
            start: {
                try await Task.sleep(for: .seconds(3_600))
                return try await slow.start()
            },
            run: { try await slow.run($0) }, stop: { await slow.stop($0) })
        let group = try SupervisorGroupTests.group(board, ["a"])
        let run = Task { try await group.run() }
        await board.waitUntil("a running") { $0.isRunning("a") }
        try group.add(.resource(hanging, name: "slow"))
        await board.waitUntil("slow starting") { _ in group.snapshot().children.last?.status == .starting }
        #expect(group.remove(named: "slow"))
        // The group is free again: it forgets the child and starts the next one.
        try group.add(.resource(board.resource("next"), name: "next"))
        let started = await Self.eventually(within: 1_000) { board.isRunning("next") }
        #expect(started, "snapshot: \(group.snapshot())")
        run.cancel()
        try await run.value
        #expect(board.journal == ["start a", "start next", "stop next", "stop a"])
    }

    @Test("oneForOne: a child whose supervisor gives up at its first start holds back the children after it")
    func oneForOneGiveUpAtStartHoldsBackLaterChildren() async throws {
        let board = Switchboard()
        board.failStarts("a", count: 1)
        // One attempt: the supervisor gives up at the first failed start, and the group starts a fresh one.
        let once = try RestartPolicy(maxAttempts: 1)
        let group = try SupervisorGroup(
            name: "root",
            children: [
                .resource(board.resource("a"), name: "a", policy: once),
                .resource(board.resource("b"), name: "b"),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "b"].allSatisfy($0.isRunning) }
        // SupervisorGroup: "Children start in order, each once the one before it is ready".
        #expect(board.journal == ["start a", "start b"])
        run.cancel()
        try await run.value
    }

    @Test(
        "restForOne: the failed child starts again only after the children after it stopped")
    func restForOneStartsFailedChildAfterLaterOnesStopped() async throws {
        let board = Switchboard()
        let gate = Gate()
        let policy = try RestartPolicy(stopTimeout: nil)
        let group = try SupervisorGroup(
            name: "root", strategy: .restForOne,
            children: [
                .resource(board.resource("listener"), name: "listener"),
                .resource(Self.gated(board, "forwarder", stopGate: gate), name: "forwarder", policy: policy),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["listener", "forwarder"].allSatisfy($0.isRunning) }
        board.fail("listener")
        await board.waitUntil("the forwarder's stop begun") { _ in gate.waiting > 0 }
        // GroupStrategy.restForOne: "the later ones are stopped in reverse order, then the failed one and the later
        // ones start again in order".
        let early = await Self.eventually(within: 300) { Self.count(board, "start listener") > 1 }
        #expect(!early, "the listener started again before its forwarder stopped: \(board.journal)")
        gate.open()
        await board.waitUntil("all back") { $0.isRunning("forwarder") && Self.count($0, "start forwarder") == 2 }
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }
}

/// Holds whoever passes until the test opens it; counts those waiting.
final class Gate: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var arrived = 0
    }

    private let state = Mutex(State())

    /// Whether the gate is open.
    var isOpen: Bool { state.withLock { $0.open } }

    /// How many have arrived at the gate, passed or not.
    var waiting: Int { state.withLock { $0.arrived } }

    /// Waits until the gate is open; not cancellable, as a hung start or stop.
    func pass() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state -> Bool in
                state.arrived += 1
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if open { continuation.resume() }
        }
    }

    /// Lets everyone through, now and from now on.
    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
