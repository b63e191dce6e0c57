import Testing

@testable import Supervisor

/// Random groups driven by random events, seeded and reproducible: whatever happens, the strategy restarts exactly
/// what it says, stops go in reverse order, no child starts twice, and none runs once the group has ended. A failure
/// names its seed; `GroupStateMachinePropertyTests.run(seed:)` replays it.
@Suite("Group state machine: random runs")
struct GroupStateMachinePropertyTests {
    /// The children as the simulated runner knows them: which run.
    struct World {
        var running: Set<Int> = []
        /// Running children that failed and restart themselves: not ready until they say so.
        var restarting: Set<Int> = []
        /// Those of them that the group waits for (not leaving, not temporary): no later child starts before they
        /// are ready, unless the strategy is oneForOne.
        var awaited: Set<Int> = []
        /// Removed while running: stopped on their own, outside any round of a strategy.
        var removed: Set<Int> = []
        /// Restarting children the group let go (oneForOne): their own supervisor may start them now.
        var released: Set<Int> = []
        var starts = 0
        var ends = 0
    }

    static let seeds: ClosedRange<UInt64> = 1...400

    @Test("400 seeded runs of up to 50 children and 300 events each: every invariant holds")
    func randomRuns() {
        var failures: [String] = []
        for seed in Self.seeds {
            failures += Self.run(seed: seed).prefix(3).map { "seed \(seed): \($0.prefix(400))" }
            if failures.count > 20 { break }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// One run; returns what went wrong.
    static func run(seed: UInt64) -> [String] {
        var random = SplitMix64(seed: seed)
        var problems: [String] = []
        let strategy = [GroupStrategy.oneForOne, .oneForAll, .restForOne].randomElement(using: &random)!
        let intensity =
            Bool.random(using: &random)
            ? try? RestartIntensity(
                maxRestarts: Int.random(in: 1...10, using: &random),
                within: .seconds(Int.random(in: 1...60, using: &random))) : nil
        var machine = GroupStateMachine(strategy: strategy, intensity: intensity, maxChildren: 50)
        let types = [ChildRestart.permanent, .transient, .temporary]
        func addRandomChild() {
            _ = machine.add(
                types.randomElement(using: &random)!, significant: Int.random(in: 0..<30, using: &random) == 0)
        }
        for _ in 0..<Int.random(in: 1...50, using: &random) { addRandomChild() }
        var world = World()
        var now = Duration.zero

        /// Carries out actions until the machine waits or ends; starts fail now and then.
        func drain() -> (actions: [GroupStateMachine.Action], startFailures: Int) {
            var actions: [GroupStateMachine.Action] = []
            var startFailures = 0
            for _ in 0..<10_000 {
                let action = machine.next()
                actions.append(action)
                switch action {
                case .start(let id):
                    if world.running.contains(id) { problems.append("child \(id) started while it runs") }
                    if strategy != .oneForOne, let earlier = world.awaited.first(where: { $0 < id }) {
                        problems.append("\(strategy): child \(id) started while child \(earlier) restarts")
                    }
                    world.starts += 1
                    // Rare enough that a oneForAll restart of 50 children usually gets through.
                    if Int.random(in: 0..<30, using: &random) == 0 {
                        // The child's own supervisor gave up on its start.
                        world.ends += 1
                        startFailures += 1
                        machine.ended(id, failed: true, at: now)
                    } else {
                        world.running.insert(id)
                        machine.ready(id)
                    }
                case .release(let id):
                    if !world.restarting.contains(id) { problems.append("child \(id) let go while not restarting") }
                    if let earlier = world.awaited.first(where: { $0 < id }) {
                        problems.append("\(strategy): child \(id) let go while child \(earlier) restarts")
                    }
                    // Its own supervisor starts it: ready, or failing again now and then.
                    if Int.random(in: 0..<10, using: &random) == 0 {
                        machine.restarting(id, at: now)
                    } else {
                        world.restarting.remove(id)
                        world.awaited.remove(id)
                        machine.ready(id)
                    }
                case .stop(let id):
                    if world.running.remove(id) == nil { problems.append("child \(id) stopped while not running") }
                    world.released.remove(id)
                    world.restarting.remove(id)
                    world.awaited.remove(id)
                    world.ends += 1
                    machine.stopped(id)
                case .wait:
                    return (actions, startFailures)
                case .finish, .escalate:
                    if !world.running.isEmpty {
                        problems.append("\(action) with children running: \(world.running.sorted())")
                    }
                    return (actions, startFailures)
                }
            }
            problems.append("no end to the actions")
            return (actions, startFailures)
        }

        machine.begin()
        _ = drain()
        for _ in 0..<300 where machine.phase == .running {
            now += .milliseconds(Int.random(in: 0...3_000, using: &random))
            let before = machine.children
            let runningBefore = world.running
            // A child restarting itself holds back what comes after it: the sets below hold when none does.
            let heldBack = strategy != .oneForOne && !world.restarting.isEmpty
            let roll = Int.random(in: 0..<100, using: &random)
            var failed: (id: Int, failed: Bool)?
            var selfRestarted: Int?
            if roll < 45, let id = world.running.sorted().randomElement(using: &random) {
                let didFail = Int.random(in: 0..<4, using: &random) != 0
                world.running.remove(id)
                world.awaited.remove(id)
                world.ends += 1
                // A child restarting itself ends only by giving up: not a case the strategy's sets below check.
                if world.restarting.remove(id) == nil { failed = (id, didFail) }
                machine.ended(id, failed: didFail, at: now)
            } else if roll < 60,
                let id = world.running.subtracting(world.restarting).sorted().randomElement(
                    using: &random)
            {
                world.restarting.insert(id)
                if let child = before.first(where: { $0.id == id }), !child.leaving, child.restart != .temporary {
                    world.awaited.insert(id)
                } else {
                    // Not restarted: a temporary child is stopped on its own, and leaves.
                    world.removed.insert(id)
                }
                selfRestarted = id
                machine.restarting(id, at: now)
            } else if roll < 70,
                let id = world.released.intersection(world.restarting).sorted().randomElement(
                    using: &random)
            {
                // A child the group let go starts (only those: the others wait for the group).
                world.released.remove(id)
                world.restarting.remove(id)
                world.awaited.remove(id)
                machine.ready(id)
            } else if roll < 85 {
                addRandomChild()
            } else if roll < 98, let child = before.randomElement(using: &random) {
                machine.remove(child.id)
                world.awaited.remove(child.id)
                if world.running.contains(child.id) { world.removed.insert(child.id) }
            } else {
                machine.shutdown()
            }
            let (actions, startFailures) = drain()
            world.released.formUnion(machine.takeReleases())
            let stops = actions.compactMap { if case .stop(let id) = $0 { id } else { nil } }
            let starts = actions.compactMap { if case .start(let id) = $0 { id } else { nil } }
            // Each round of stops (a shutdown, an escalation, a strategy's restart; a start that fails may begin
            // another) goes in reverse order.
            var round: [Int] = []
            for action in actions + [.wait] {
                if case .stop(let id) = action {
                    if world.removed.remove(id) == nil { round.append(id) }
                    continue
                }
                if round != round.sorted(by: >) { problems.append("stops not in reverse order: \(round)") }
                round = []
            }
            if let id = selfRestarted, let child = before.first(where: { $0.id == id }), startFailures == 0, !heldBack,
                !actions.contains(.escalate), !actions.contains(.finish), child.restart != .temporary,
                !child.leaving
            {
                // Its siblings stop as the strategy says; those after it wait for it.
                let others = before.map(\.id).filter { runningBefore.contains($0) && $0 != id }
                let expectedStops: [Int]
                let expectedStarts: [Int]
                // Let go once the others stopped, and back at once unless its start failed again: then those after it
                // start too.
                let back = !world.restarting.contains(id)
                let restartable = before.filter { $0.id != id && $0.restart != .temporary && !$0.leaving }.map(\.id)
                switch strategy.kind {
                case .oneForOne:
                    (expectedStops, expectedStarts) = ([], [])
                case .oneForAll:
                    expectedStops = others.reversed()
                    expectedStarts = back ? restartable : restartable.filter { $0 < id }
                case .restForOne:
                    expectedStops = others.filter { $0 > id }.reversed()
                    expectedStarts = back ? restartable.filter { $0 > id } : []
                }
                if stops != expectedStops || starts != expectedStarts {
                    problems.append(
                        "\(strategy) after child \(id) restarted itself: stops \(stops), starts \(starts); expected "
                            + "\(expectedStops), \(expectedStarts)")
                }
            }
            // The strategy's sets, for a failure that restarts with nothing else in the way.
            guard let failed, let child = before.first(where: { $0.id == failed.id }), startFailures == 0, !heldBack,
                !actions.contains(.escalate), !actions.contains(.finish),
                child.restart.restarts(afterFailure: failed.failed), !(child.significant && !failed.failed)
            else { continue }
            let later = before.filter { $0.id > failed.id }
            let expectedStops: [Int]
            let expectedStarts: [Int]
            switch strategy.kind {
            case .oneForOne:
                (expectedStops, expectedStarts) = ([], [failed.id])
            case .oneForAll:
                expectedStops = before.map(\.id).filter { runningBefore.contains($0) && $0 != failed.id }.reversed()
                expectedStarts = before.filter { $0.restart != .temporary && !$0.leaving }.map(\.id)
            case .restForOne:
                expectedStops = later.map(\.id).filter { runningBefore.contains($0) }.reversed()
                expectedStarts = [failed.id] + later.filter { $0.restart != .temporary && !$0.leaving }.map(\.id)
            }
            if stops != expectedStops || starts != expectedStarts {
                problems.append(
                    "\(strategy) after child \(failed.id) failed: stops \(stops), starts \(starts); expected "
                        + "\(expectedStops), \(expectedStarts)")
            }
            if let firstStart = actions.firstIndex(where: { if case .start = $0 { true } else { false } }),
                let lastStop = actions.lastIndex(where: { if case .stop = $0 { true } else { false } }),
                lastStop > firstStart
            {
                problems.append("\(strategy): a start before the last stop: \(actions)")
            }
        }
        if machine.phase != .ended {
            machine.shutdown()
            let (actions, _) = drain()
            if actions.last != .finish {
                problems.append("the shutdown ended with \(actions.last.map { "\($0)" } ?? "nothing")")
            }
        }
        if !world.running.isEmpty { problems.append("children run after the group ended: \(world.running.sorted())") }
        if world.starts != world.ends { problems.append("\(world.starts) starts but \(world.ends) ends") }
        return problems
    }
}
