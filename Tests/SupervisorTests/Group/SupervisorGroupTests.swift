import Clocks
import Logging
import MetricsTestKit
import ServiceLifecycle
import Supervisor
import Synchronization
import Testing

/// The group runner with real tasks and real supervisors, on an immediate clock: every backoff ends at once, so the
/// order of starts and stops is what is tested. Children are `Switchboard` resources, failed on demand.
@Suite("Supervisor group")
struct SupervisorGroupTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func group(
        _ board: Switchboard, _ names: [String], strategy: GroupStrategy = .oneForOne,
        intensity: RestartIntensity? = nil, escalation: Escalation = .giveUp, maxChildren: Int = 100,
        clock: any Clock<Duration> = ImmediateClock()
    ) throws -> SupervisorGroup {
        try SupervisorGroup(
            name: "root", strategy: strategy, intensity: intensity, escalation: escalation, maxChildren: maxChildren,
            children: names.map { try .resource(board.resource($0), name: $0) }, clock: clock,
            generator: { SplitMix64(seed: 7) }, logger: quiet)
    }

    /// The error `add` throws, recorded as an issue when it throws none.
    static func refusal(_ group: SupervisorGroup, _ child: GroupChild) -> GroupError? {
        #expect(throws: GroupError.self) { try group.add(child) }
    }

    /// The journal's entries after the `index`-th.
    static func journal(_ board: Switchboard, from index: Int) -> [String] {
        Array(board.journal.dropFirst(index))
    }

    @Test("children start in order, each once the one before is ready; a cancellation stops them in reverse")
    func startAndStopOrder() async throws {
        let board = Switchboard()
        let group = try Self.group(board, ["a", "b", "c"])
        let run = Task { try await group.run() }
        await board.waitUntil("the group ready") { _ in group.state.isReady }
        #expect(board.journal == ["start a", "start b", "start c"])
        run.cancel()
        try await run.value
        #expect(board.journal == ["start a", "start b", "start c", "stop c", "stop b", "stop a"])
        #expect("\(group.state)" == "stopped: shutdown requested")
    }

    @Test("restForOne: the children after a failed one stop in reverse, then start again once it is ready")
    func restForOne() async throws {
        let board = Switchboard()
        let group = try Self.group(board, ["a", "b", "c", "d"], strategy: .restForOne)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "b", "c", "d"].allSatisfy($0.isRunning) }
        let mark = board.journal.count
        board.fail("b")
        await board.waitUntil("d back") { $0.isRunning("d") && $0.journal.count >= mark + 6 }
        let after = Self.journal(board, from: mark)
        #expect(Set(after) == ["stop b", "stop d", "stop c", "start b", "start c", "start d"])
        #expect(after.firstIndex(of: "stop d")! < after.firstIndex(of: "stop c")!)
        // Those after b start only once b is back, in order, and only after both were stopped.
        let startB = after.firstIndex(of: "start b")!
        let startC = after.firstIndex(of: "start c")!
        let startD = after.firstIndex(of: "start d")!
        #expect(startB < startC && startC < startD)
        #expect(after.firstIndex(of: "stop c")! < startC)
        #expect(!after.contains("stop a"))
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }

    @Test("oneForAll: every other child stops in reverse; all start again in order")
    func oneForAll() async throws {
        let board = Switchboard()
        let group = try Self.group(board, ["a", "b", "c"], strategy: .oneForAll)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "b", "c"].allSatisfy($0.isRunning) }
        let mark = board.journal.count
        board.fail("b")
        await board.waitUntil("all back") { $0.journal.count >= mark + 6 && ["a", "b", "c"].allSatisfy($0.isRunning) }
        let after = Self.journal(board, from: mark)
        #expect(Set(after) == ["stop a", "stop b", "stop c", "start a", "start b", "start c"])
        #expect(after.firstIndex(of: "stop c")! < after.firstIndex(of: "stop a")!)
        #expect(after.firstIndex(of: "stop a")! < after.firstIndex(of: "start a")!)
        #expect(after.firstIndex(of: "start b")! < after.firstIndex(of: "start c")!)
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }

    @Test("oneForOne: only the failed child restarts")
    func oneForOne() async throws {
        let board = Switchboard()
        let group = try Self.group(board, ["a", "b", "c"])
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "b", "c"].allSatisfy($0.isRunning) }
        let mark = board.journal.count
        board.fail("b")
        await board.waitUntil("b back") { $0.isRunning("b") && $0.journal.count >= mark + 2 }
        #expect(Self.journal(board, from: mark) == ["stop b", "start b"])
        run.cancel()
        try await run.value
    }

    @Test("past the group's intensity every child stops in reverse and run() throws intensityExceeded")
    func escalation() async throws {
        let board = Switchboard()
        let group = try Self.group(
            board, ["a", "b", "c"], intensity: try RestartIntensity(maxRestarts: 2, within: .seconds(3_600)))
        let run = Task { try await group.run() }
        for round in 0..<3 {
            await board.waitUntil("b running, round \(round)") { $0.isRunning("b") }
            board.fail("b")
        }
        let error = await #expect(throws: SupervisorError.self) { try await run.value }
        #expect(error?.code == .intensityExceeded)
        #expect(error?.name == "root")
        #expect(board.live.isEmpty)
        let tail = board.journal.suffix(2)
        #expect(Array(tail) == ["stop c", "stop a"])
    }

    @Test("a nested group that escalates fails to its parent, which starts it again; its sibling is untouched")
    func nestedEscalation() async throws {
        let board = Switchboard()
        let inner = try GroupChild.group(
            name: "inner", strategy: .oneForAll,
            intensity: try RestartIntensity(maxRestarts: 1, within: .seconds(3_600)),
            children: [.resource(board.resource("p"), name: "p"), .resource(board.resource("q"), name: "q")])
        let root = try SupervisorGroup(
            name: "root", children: [.resource(board.resource("x"), name: "x"), inner], clock: ImmediateClock(),
            generator: { SplitMix64(seed: 1) }, logger: Self.quiet)
        let events = root.events(bufferingPolicy: .unbounded)
        let run = Task { try await root.run() }
        await board.waitUntil("all running") { ["x", "p", "q"].allSatisfy($0.isRunning) }
        board.fail("q")
        await board.waitUntil("q back") { $0.isRunning("q") && $0.journal.filter { $0 == "start q" }.count == 2 }
        let mark = board.journal.count
        board.fail("q")
        // The inner group trips: p and q stop, the root starts the inner group again from scratch.
        await board.waitUntil("inner back") {
            ["p", "q"].allSatisfy($0.isRunning) && $0.journal.count >= mark + 4
        }
        #expect(Self.journal(board, from: mark) == ["stop q", "stop p", "start p", "start q"])
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
        var paths = Set<String>()
        for await event in events { paths.insert(event.path) }
        #expect(paths.isSuperset(of: ["root", "root/x", "root/inner", "root/inner/p", "root/inner/q"]))
    }

    @Test("children added while running start; removed ones stop; the cap and a duplicate name are refused")
    func dynamicChildren() async throws {
        let board = Switchboard()
        let group = try Self.group(board, ["a"], maxChildren: 2)
        let run = Task { try await group.run() }
        await board.waitUntil("a running") { $0.isRunning("a") }
        try group.add(.resource(board.resource("s1"), name: "s1", restart: .temporary))
        await board.waitUntil("s1 running") { $0.isRunning("s1") }
        let full = try Self.refusal(group, .resource(board.resource("s2"), name: "s2"))
        #expect(full?.code == .full)
        #expect(group.remove(named: "s1"))
        // Its place is free once the group has stopped it.
        await board.waitUntil("s1 gone") { _ in group.snapshot().children.count == 1 }
        #expect(!group.remove(named: "s1"))
        try group.add(.resource(board.resource("s2"), name: "s2"))
        let duplicate = try Self.refusal(group, .resource(board.resource("a"), name: "a"))
        #expect(duplicate?.code == .duplicateName)
        await board.waitUntil("s2 running") { $0.isRunning("s2") }
        run.cancel()
        try await run.value
        #expect(board.journal == ["start a", "start s1", "stop s1", "start s2", "stop s2", "stop a"])
        let late = try Self.refusal(group, .resource(board.resource("late"), name: "late"))
        #expect(late?.code == .ended)
    }

    @Test("a significant child's normal end stops the others and ends run() normally")
    func significantChild() async throws {
        let board = Switchboard()
        let policy = try RestartPolicy(onCompletion: .finish)
        let group = try SupervisorGroup(
            name: "root",
            children: [
                .resource(board.resource("a"), name: "a"),
                .resource(board.resource("job"), name: "job", policy: policy, restart: .transient, significant: true),
                .resource(board.resource("c"), name: "c"),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "job", "c"].allSatisfy($0.isRunning) }
        board.complete("job")
        try await run.value
        #expect(board.journal.suffix(3) == ["stop job", "stop c", "stop a"])
        #expect("\(group.state)" == "stopped: completed")
    }

    @Test("a significant temporary child's failure stops the others and run() throws childFailed with its error")
    func significantFailure() async throws {
        let board = Switchboard()
        // The child's own supervisor gives up at once: the group sees its end, and does not start it again.
        let policy = try RestartPolicy(classifier: .always(.giveUp))
        let group = try SupervisorGroup(
            name: "root",
            children: [
                .resource(board.resource("a"), name: "a"),
                .resource(
                    board.resource("server"), name: "server", policy: policy, restart: .temporary, significant: true),
                .resource(board.resource("c"), name: "c"),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "server", "c"].allSatisfy($0.isRunning) }
        board.fail("server")
        let error = await #expect(throws: SupervisorError.self) { try await run.value }
        #expect(error?.code == .childFailed)
        let childError = error?.lastFailure as? SupervisorError
        #expect(childError?.name == "root/server")
        #expect(childError?.lastFailure is Switchboard.Failure)
        #expect(board.journal.suffix(3) == ["stop server", "stop c", "stop a"])
    }

    @Test("a transient child that ends normally stays stopped; the others keep running")
    func transientChild() async throws {
        let board = Switchboard()
        let policy = try RestartPolicy(onCompletion: .finish)
        let group = try SupervisorGroup(
            name: "root",
            children: [
                .resource(board.resource("a"), name: "a"),
                .resource(board.resource("t"), name: "t", policy: policy, restart: .transient),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "t"].allSatisfy($0.isRunning) }
        board.complete("t")
        await board.waitUntil("t stopped") { _ in group.snapshot().children.last?.status == .stopped }
        let snapshot = group.snapshot()
        #expect(snapshot.children.map { "\($0.name) \($0.status)" } == ["a running", "t stopped"])
        run.cancel()
        try await run.value
        #expect(board.journal == ["start a", "start t", "stop t", "stop a"])
    }

    @Test("a snapshot draws the tree with each child's state")
    func snapshot() async throws {
        let board = Switchboard()
        let root = try SupervisorGroup(
            name: "relay", strategy: .restForOne,
            children: [
                .resource(board.resource("listener"), name: "listener"),
                .group(name: "streams", children: [.resource(board.resource("s1"), name: "s1", restart: .temporary)]),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await root.run() }
        await board.waitUntil("all running") { ["listener", "s1"].allSatisfy($0.isRunning) }
        await board.waitUntil("root ready") { _ in root.state.isReady }
        #expect(
            "\(root.snapshot())" == """
                relay (rest for one): ready
                ├─ listener (permanent): running, ready
                └─ streams (one for one): ready
                   └─ s1 (temporary): running, ready
                """)
        run.cancel()
        try await run.value
    }

    @Test("a child whose start keeps failing holds back the children after it until it is ready")
    func startFailureHoldsBack() async throws {
        let board = Switchboard()
        board.failStarts("a", count: 3)
        let group = try Self.group(board, ["a", "b"])
        let run = Task { try await group.run() }
        await board.waitUntil("b running") { $0.isRunning("b") }
        #expect(board.journal == ["start a", "start b"])
        run.cancel()
        try await run.value
    }

    @Test("under a ServiceGroup, a graceful shutdown stops the children in reverse order")
    func gracefulShutdown() async throws {
        let board = Switchboard()
        let group = try Self.group(board, ["a", "b", "c"], clock: ContinuousClock())
        let services = ServiceGroup(services: [group], logger: Self.quiet)
        let run = Task { try await services.run() }
        await board.waitUntil("all running") { ["a", "b", "c"].allSatisfy($0.isRunning) }
        await services.triggerGracefulShutdown()
        try await run.value
        #expect(board.journal == ["start a", "start b", "start c", "stop c", "stop b", "stop a"])
    }

    @Test("a degrading root starts every child again after the probe interval")
    func degradingRoot() async throws {
        let board = Switchboard()
        let clock = TestClock()
        let group = try Self.group(
            board, ["a", "b"], intensity: try RestartIntensity(maxRestarts: 0, within: .seconds(60)),
            escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none), clock: clock)
        let run = Task { try await group.run() }
        await board.waitUntil("all running") { ["a", "b"].allSatisfy($0.isRunning) }
        board.fail("a")
        await board.waitUntil("degraded") { _ in if case .degraded = group.state { true } else { false } }
        #expect(board.live.isEmpty)
        #expect(board.journal.suffix(2) == ["stop a", "stop b"])
        // Not before the probe interval: the group's probe may not be asleep on the clock yet, so the clock moves
        // until the children are back, 30 s at a time.
        await clock.advance(by: .seconds(29))
        #expect(board.live.isEmpty)
        for _ in 0..<100 where !["a", "b"].allSatisfy(board.isRunning) {
            await clock.advance(by: .seconds(1))
            try await Task.sleep(for: .milliseconds(5))
        }
        await board.waitUntil("all back") { ["a", "b"].allSatisfy($0.isRunning) }
        #expect(board.journal.suffix(2) == ["start a", "start b"])
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }

    @Test("metrics: running children, restarts and escalations per group; each child's own under its path")
    func metrics() async throws {
        let board = Switchboard()
        let metrics = TestMetrics()
        let group = try SupervisorGroup(
            name: "root", intensity: try RestartIntensity(maxRestarts: 1, within: .seconds(3_600)),
            children: [.resource(board.resource("a"), name: "a"), .resource(board.resource("b"), name: "b")],
            clock: ImmediateClock(), logger: Self.quiet, metricsFactory: metrics)
        let run = Task { try await group.run() }
        await board.waitUntil("the group ready") { _ in group.state.isReady }
        let name = ("name", "root")
        #expect(try metrics.expectMeter("supervisor_group_children", [name]).lastValue == 2)
        board.fail("b")
        await board.waitUntil("b back") { $0.journal.count == 4 && $0.isRunning("b") }
        #expect(try metrics.expectCounter("supervisor_group_restarts_total", [name]).totalValue == 1)
        #expect(try metrics.expectCounter("supervisor_restarts_total", [("name", "root/b")]).totalValue == 1)
        board.fail("b")
        _ = await #expect(throws: SupervisorError.self) { try await run.value }
        #expect(try metrics.expectCounter("supervisor_group_escalations_total", [name]).totalValue == 1)
        #expect(try metrics.expectMeter("supervisor_group_children", [name]).lastValue == 0)
    }

    @Test("2,000 children all start, in order, and the group becomes ready")
    func manyChildrenStart() async throws {
        // Each child's task may ask for its first start before the group has recorded it: none may be lost.
        let board = Switchboard()
        let names = (0..<2_000).map { "c\($0)" }
        // restForOne: each start asks the group for its permit (under oneForOne none does).
        let group = try Self.group(board, names, strategy: .restForOne, maxChildren: 2_000, clock: ContinuousClock())
        let run = Task { try await group.run() }
        await board.waitUntil("the group ready") { _ in group.state.isReady }
        #expect(board.journal == names.map { "start \($0)" })
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }

    @Test("a nested group started again starts with the children added to it at run time; temporary ones go")
    func nestedGroupKeepsAddedChildren() async throws {
        let board = Switchboard()
        let root = try SupervisorGroup(
            name: "root", strategy: .restForOne,
            children: [
                .resource(board.resource("listener"), name: "listener"),
                .group(name: "streams", children: [.resource(board.resource("s0"), name: "s0")]),
            ], clock: ImmediateClock(), logger: Self.quiet)
        let run = Task { try await root.run() }
        await board.waitUntil("the tree ready") { _ in root.state.isReady }
        let streams = try #require(root.group(at: "streams"))
        try streams.add(.resource(board.resource("kept"), name: "kept", restart: .transient))
        try streams.add(.resource(board.resource("once"), name: "once", restart: .temporary))
        await board.waitUntil("both added running") { ["kept", "once"].allSatisfy($0.isRunning) }
        // The listener fails: restForOne stops the streams group and starts a new one after it.
        board.fail("listener")
        await board.waitUntil("a new streams group with its children") { board in
            board.journal.filter { $0 == "start kept" }.count == 2 && board.isRunning("kept") && board.isRunning("s0")
        }
        let again = try #require(root.group(at: "streams"))
        #expect(again !== streams)
        #expect(again.snapshot().children.map(\.name) == ["s0", "kept"])
        #expect(!board.isRunning("once"))
        run.cancel()
        try await run.value
        #expect(board.live.isEmpty)
    }

    @Test("invalid groups throw at construction")
    func invalidConfiguration() throws {
        let board = Switchboard()
        #expect(throws: ConfigurationError.self) { try GroupChild.resource(board.resource("x"), name: "") }
        #expect(throws: ConfigurationError.self) { try GroupChild.resource(board.resource("x"), name: "a/b") }
        #expect(throws: ConfigurationError.self) {
            try GroupChild.resource(board.resource("x"), name: "x", restart: .permanent, significant: true)
        }
        #expect(throws: ConfigurationError.self) { try Self.group(board, ["a", "a"]) }
        #expect(throws: ConfigurationError.self) { try Self.group(board, ["a", "b"], maxChildren: 1) }
        #expect(throws: ConfigurationError.self) { try Self.group(board, [], maxChildren: 0) }
    }
}
