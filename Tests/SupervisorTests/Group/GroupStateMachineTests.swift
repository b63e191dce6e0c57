import Testing

@testable import Supervisor

/// The group's decisions alone: no clock, no tasks. Each test plays the runner: it carries out the machine's actions
/// and reports what the children did.
@Suite("Group state machine")
struct GroupStateMachineTests {
    /// Carries out every action until the machine waits or ends, every start ready and every stop done; returns
    /// the actions in order.
    static func settle(_ machine: inout GroupStateMachine, readyWhenLetGo: Bool = true) -> [GroupStateMachine.Action] {
        var actions: [GroupStateMachine.Action] = []
        for _ in 0..<10_000 {
            let action = machine.next()
            actions.append(action)
            switch action {
            case .start(let id): machine.ready(id)
            case .release(let id): if readyWhenLetGo { machine.ready(id) }
            case .stop(let id): machine.stopped(id)
            case .wait, .finish, .escalate: return actions
            }
        }
        Issue.record("the machine did not settle in 10,000 actions")
        return actions
    }

    static func machine(
        _ strategy: GroupStrategy, children count: Int, intensity: RestartIntensity? = nil
    ) -> (GroupStateMachine, [Int]) {
        var machine = GroupStateMachine(strategy: strategy, intensity: intensity)
        let ids = (0..<count).compactMap { _ in machine.add(.permanent) }
        machine.begin()
        return (machine, ids)
    }

    @Test("children start in order, each after the one before is ready, and stop in reverse order")
    func startInOrderStopInReverse() {
        var (machine, ids) = Self.machine(.oneForOne, children: 3)
        #expect(machine.next() == .start(ids[0]))
        // Nothing more until the first is ready.
        #expect(machine.next() == .wait)
        machine.ready(ids[0])
        #expect(machine.next() == .start(ids[1]))
        machine.ready(ids[1])
        #expect(machine.next() == .start(ids[2]))
        machine.ready(ids[2])
        #expect(machine.next() == .wait)
        machine.shutdown()
        #expect(Self.settle(&machine) == [.stop(ids[2]), .stop(ids[1]), .stop(ids[0]), .finish])
        #expect(machine.phase == .ended)
    }

    @Test(
        "a failure restarts what the strategy says: the child; all, others stopped in reverse; it and those after",
        arguments: [
            (GroupStrategy.oneForOne, [GroupStateMachine.Action.start(2)]),
            (
                .oneForAll,
                [.stop(4), .stop(3), .stop(1), .stop(0), .start(0), .start(1), .start(2), .start(3), .start(4)]
            ),
            (.restForOne, [.stop(4), .stop(3), .start(2), .start(3), .start(4)]),
        ])
    func strategies(strategy: GroupStrategy, expected: [GroupStateMachine.Action]) {
        var (machine, _) = Self.machine(strategy, children: 5)
        _ = Self.settle(&machine)
        machine.ended(2, failed: true, at: .seconds(1))
        #expect(Self.settle(&machine) == expected + [.wait])
    }

    @Test(
        "a child that restarts itself is let go once its siblings stopped; those after it wait until it is ready",
        arguments: [
            (GroupStrategy.oneForOne, [GroupStateMachine.Action](), [GroupStateMachine.Action]()),
            (
                .oneForAll, [.stop(4), .stop(3), .stop(1), .stop(0), .start(0), .start(1), .release(2)],
                [.start(3), .start(4)]
            ),
            (.restForOne, [.stop(4), .stop(3), .release(2)], [.start(3), .start(4)]),
        ])
    func selfRestart(
        strategy: GroupStrategy, untilReady: [GroupStateMachine.Action], afterReady: [GroupStateMachine.Action]
    ) {
        var (machine, _) = Self.machine(strategy, children: 5)
        _ = Self.settle(&machine)
        machine.restarting(2, at: .seconds(1))
        #expect(Self.settle(&machine, readyWhenLetGo: false) == untilReady + [.wait])
        // Under oneForOne nothing waits for it: it is let go at once, whatever the group is doing.
        #expect(machine.takeReleases() == (strategy == .oneForOne ? [2] : []))
        #expect(machine.child(2)?.state == .restarting)
        machine.ready(2)
        #expect(Self.settle(&machine) == afterReady + [.wait])
        #expect(machine.children.allSatisfy { $0.state == .running })
    }

    @Test("a child whose start fails again on its way back is let go again; the others wait on")
    func failsAgainOnItsWayBack() {
        var (machine, _) = Self.machine(.restForOne, children: 3)
        _ = Self.settle(&machine)
        machine.restarting(0, at: .seconds(1))
        #expect(Self.settle(&machine, readyWhenLetGo: false) == [.stop(2), .stop(1), .release(0), .wait])
        machine.restarting(0, at: .seconds(2))
        #expect(machine.takeReleases() == [0])
        #expect(Self.settle(&machine, readyWhenLetGo: false) == [.wait])
        machine.ready(0)
        #expect(Self.settle(&machine) == [.start(1), .start(2), .wait])
    }

    @Test("a shutdown does not wait for a child restarting itself: it is stopped with the others")
    func shutdownWhileRestarting() {
        var (machine, _) = Self.machine(.restForOne, children: 3)
        _ = Self.settle(&machine)
        machine.restarting(0, at: .seconds(1))
        #expect(Self.settle(&machine, readyWhenLetGo: false) == [.stop(2), .stop(1), .release(0), .wait])
        machine.shutdown()
        #expect(Self.settle(&machine) == [.stop(0), .finish])
    }

    @Test("permanent restarts after any end, transient after a failure only, temporary never and leaves")
    func restartTypes() {
        var machine = GroupStateMachine(strategy: .oneForOne)
        let permanent = machine.add(.permanent)!
        let transient = machine.add(.transient)!
        let temporary = machine.add(.temporary)!
        machine.begin()
        _ = Self.settle(&machine)
        machine.ended(permanent, failed: false, at: .seconds(1))
        machine.ended(transient, failed: false, at: .seconds(1))
        machine.ended(temporary, failed: true, at: .seconds(1))
        #expect(Self.settle(&machine) == [.start(permanent), .wait])
        #expect(machine.child(transient)?.state == .stopped)
        #expect(machine.child(temporary) == nil, "a temporary child leaves the group when it ends")
        // A stopped child's late report changes nothing.
        machine.ended(transient, failed: true, at: .seconds(2))
        #expect(Self.settle(&machine) == [.wait])
        // A transient child that fails is started again.
        var failing = GroupStateMachine(strategy: .oneForOne)
        let again = failing.add(.transient)!
        failing.begin()
        _ = Self.settle(&failing)
        failing.ended(again, failed: true, at: .seconds(1))
        #expect(Self.settle(&failing) == [.start(again), .wait])
    }

    @Test("one restart too many within the period stops every child in reverse and escalates")
    func intensityEscalates() throws {
        let intensity = try RestartIntensity(maxRestarts: 2, within: .seconds(10))
        var (machine, ids) = Self.machine(.oneForOne, children: 3, intensity: intensity)
        _ = Self.settle(&machine)
        machine.ended(ids[1], failed: true, at: .seconds(1))
        _ = Self.settle(&machine)
        machine.ended(ids[1], failed: true, at: .seconds(2))
        _ = Self.settle(&machine)
        // Restarts at 1 s and 2 s; a third at 3 s is one more than 2 in 10 s.
        machine.ended(ids[1], failed: true, at: .seconds(3))
        #expect(Self.settle(&machine) == [.stop(ids[2]), .stop(ids[0]), .escalate])
        #expect(machine.children.allSatisfy { $0.state == .stopped })
    }

    @Test("restarts spread beyond the period never escalate")
    func intensitySlides() throws {
        let intensity = try RestartIntensity(maxRestarts: 2, within: .seconds(10))
        var (machine, ids) = Self.machine(.oneForOne, children: 1, intensity: intensity)
        _ = Self.settle(&machine)
        for second in stride(from: 0, to: 100, by: 6) {
            machine.ended(ids[0], failed: true, at: .seconds(second))
            #expect(Self.settle(&machine) == [.start(ids[0]), .wait])
        }
    }

    @Test("a significant child's normal end stops the others in reverse and finishes; its failure restarts it")
    func significantChild() {
        var machine = GroupStateMachine(strategy: .oneForOne)
        let first = machine.add(.permanent)!
        let significant = machine.add(.transient, significant: true)!
        let last = machine.add(.permanent)!
        machine.begin()
        _ = Self.settle(&machine)
        machine.ended(significant, failed: true, at: .seconds(1))
        #expect(Self.settle(&machine) == [.start(significant), .wait])
        machine.ended(significant, failed: false, at: .seconds(2))
        #expect(Self.settle(&machine) == [.stop(last), .stop(first), .finish])
    }

    @Test("children added while the group runs start after it; removed ones are stopped; the cap refuses more")
    func dynamicChildren() {
        var machine = GroupStateMachine(strategy: .oneForOne, maxChildren: 3)
        let first = machine.add(.permanent)!
        machine.begin()
        _ = Self.settle(&machine)
        let second = machine.add(.temporary)!
        let third = machine.add(.temporary)!
        #expect(machine.add(.temporary) == nil, "the cap is 3")
        #expect(Self.settle(&machine) == [.start(second), .start(third), .wait])
        machine.remove(second)
        #expect(Self.settle(&machine) == [.stop(second), .wait])
        #expect(machine.child(second) == nil)
        #expect(machine.add(.temporary) != nil, "room again after a removal")
        _ = Self.settle(&machine)
        machine.shutdown()
        let stops = Self.settle(&machine)
        #expect(stops.first == .stop(machine.children.last!.id))
        #expect(stops.last == .finish)
        #expect(machine.add(.permanent) == nil, "an ended group takes no child")
        _ = first
    }

    @Test("a oneForAll restart does not start temporary children again: they leave")
    func temporaryLeavesOnRestart() {
        var machine = GroupStateMachine(strategy: .oneForAll)
        let permanent = machine.add(.permanent)!
        let temporary = machine.add(.temporary)!
        let failing = machine.add(.permanent)!
        machine.begin()
        _ = Self.settle(&machine)
        machine.ended(failing, failed: true, at: .seconds(1))
        #expect(
            Self.settle(&machine) == [
                .stop(temporary), .stop(permanent), .start(permanent), .start(failing), .wait,
            ])
        #expect(machine.child(temporary) == nil)
    }

    @Test("a shutdown while a child starts waits for it, then stops it with the others")
    func shutdownDuringStart() {
        var (machine, ids) = Self.machine(.oneForOne, children: 3)
        #expect(machine.next() == .start(ids[0]))
        machine.ready(ids[0])
        #expect(machine.next() == .start(ids[1]))
        machine.shutdown()
        // The start in flight reports first.
        #expect(machine.next() == .wait)
        machine.ready(ids[1])
        #expect(Self.settle(&machine) == [.stop(ids[1]), .stop(ids[0]), .finish])
    }
}
