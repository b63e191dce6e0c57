import Clocks
import Logging
import Supervisor
import Testing

/// Random trees of real groups and supervisors, on an immediate clock, driven by random failures and returns of
/// their leaves: seeded and reproducible, the seed named on failure (`run(seed:)` replays one). After each event the
/// journal must show exactly what the failed leaf's group's strategy restarts, stops in reverse order of the tree,
/// then starts (the failed leaf's own restart included) in its order; at the end nothing runs, and every start has
/// its stop.
@Suite("Supervisor group: random trees")
struct SupervisorGroupPropertyTests {
    /// A tree as the test knows it.
    indirect enum Node {
        case leaf(String, transient: Bool)
        case group(String, GroupStrategy, [Node])

        /// The leaves below, in the tree's order.
        var leaves: [String] {
            switch self {
            case .leaf(let name, _): [name]
            case .group(_, _, let children): children.flatMap(\.leaves)
            }
        }
    }

    static let seeds: ClosedRange<UInt64> = 1...24

    @Test("24 seeded trees (depth up to 4, up to 50 leaves, 12 events each): every strategy and order holds")
    func randomTrees() async throws {
        var failures: [String] = []
        for seed in Self.seeds {
            failures += try await Self.run(seed: seed).prefix(3).map { "seed \(seed): \($0.prefix(600))" }
            if failures.count > 10 { break }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// One run; returns what went wrong.
    static func run(seed: UInt64) async throws -> [String] {
        var random = SplitMix64(seed: seed)
        var leafCount = 0
        let strategies = [GroupStrategy.oneForOne, .oneForAll, .restForOne]

        func build(depth: Int) -> [Node] {
            (0..<Int.random(in: 1...6, using: &random)).compactMap { _ in
                guard leafCount < 50 else { return nil }
                if depth < 4, Int.random(in: 0..<10, using: &random) < 3 {
                    let name = "g\(leafCount)d\(depth)"
                    let children = build(depth: depth + 1)
                    return children.isEmpty ? nil : .group(name, strategies.randomElement(using: &random)!, children)
                }
                leafCount += 1
                return .leaf("n\(leafCount)", transient: Int.random(in: 0..<4, using: &random) == 0)
            }
        }
        let rootStrategy = strategies.randomElement(using: &random)!
        let children = build(depth: 2)
        let root = Node.group("root", rootStrategy, children)
        let order = Dictionary(uniqueKeysWithValues: root.leaves.enumerated().map { ($1, $0) })

        let board = Switchboard()
        func child(_ node: Node) throws -> GroupChild {
            switch node {
            case .leaf(let name, let transient):
                // A transient leaf's normal return ends its supervisor, and it stays stopped. No stop timeout: on the
                // immediate clock any timeout passes at once, so a stop whose task had not run yet on a loaded
                // machine would be left behind, and the journal would show it after the restarts (the switchboard's
                // stops never hang).
                let policy =
                    transient
                    ? try RestartPolicy(onCompletion: .finish, stopTimeout: nil) : try RestartPolicy(stopTimeout: nil)
                return try .resource(
                    board.resource(name), name: name, policy: policy, restart: transient ? .transient : .permanent)
            case .group(let name, let strategy, let nodes):
                return try .group(name: name, strategy: strategy, children: nodes.map(child))
            }
        }
        let group = try SupervisorGroup(
            name: "root", strategy: rootStrategy, children: children.map(child), clock: ImmediateClock(),
            generator: { SplitMix64(seed: seed) },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let run = Task { try await group.run() }
        var problems: [String] = []
        /// Transient leaves that returned: stopped until a strategy starts them again.
        var returned: Set<String> = []

        func settle(_ what: String, journal count: Int) async -> Bool {
            let expected = Set(order.keys).subtracting(returned)
            for _ in 0..<10_000 {
                if board.journal.count >= count, expected.allSatisfy(board.isRunning) { return true }
                try? await Task.sleep(for: .milliseconds(1))
            }
            problems.append("\(what): no settling; journal \(board.journal.suffix(20))")
            return false
        }

        guard await settle("start", journal: order.count) else { return await cleanUp(run, board, problems) }
        if board.journal != root.leaves.map({ "start \($0)" }) {
            problems.append("first starts \(board.journal), expected tree order")
        }

        for event in 0..<12 {
            let running = order.keys.filter { !returned.contains($0) }.sorted { order[$0]! < order[$1]! }
            guard let leaf = running.randomElement(using: &random) else { break }
            let (parentStrategy, siblings, index) = Self.parent(of: leaf, in: root)!
            let transient = Self.isTransient(leaf, in: root)
            let returns = transient && Int.random(in: 0..<3, using: &random) == 0
            let mark = board.journal.count
            // The leaves the strategy restarts, the failed one first.
            var affected: [String]
            if returns {
                affected = []
                returned.insert(leaf)
            } else {
                if parentStrategy == .oneForOne {
                    affected = [leaf]
                } else if parentStrategy == .oneForAll {
                    affected = siblings.flatMap(\.leaves)
                } else {
                    affected = [leaf] + siblings[(index + 1)...].flatMap(\.leaves)
                }
            }
            let stopping = affected.filter { $0 != leaf && !returned.contains($0) }
            let expectedCount = 1 + stopping.count + affected.count
            _ = returns ? board.complete(leaf) : board.fail(leaf)
            returned.subtract(affected)
            let what = "event \(event): \(leaf) \(returns ? "returned" : "failed") in a \(parentStrategy) group"
            guard await settle(what, journal: mark + expectedCount) else { break }
            // Nothing more than expected comes in.
            for _ in 0..<20 { await Task.yield() }
            let after = Array(board.journal.dropFirst(mark))
            let stops = after.filter { $0.hasPrefix("stop ") }.map { String($0.dropFirst(5)) }
            let starts = after.filter { $0.hasPrefix("start ") }.map { String($0.dropFirst(6)) }
            if Set(stops) != Set(stopping + [leaf]) || stops.count != stopping.count + 1
                || Set(starts) != Set(affected) || starts.count != affected.count
            {
                problems.append("\(what): stops \(stops), starts \(starts); expected \(stopping + [leaf]), \(affected)")
                continue
            }
            let groupStops = stops.filter { $0 != leaf }
            if groupStops != groupStops.sorted(by: { order[$0]! > order[$1]! }) {
                problems.append("\(what): stops not in reverse tree order: \(groupStops)")
            }
            // The failed leaf's own supervisor restarts it, but only when its group lets it: in tree order too.
            if starts != starts.sorted(by: { order[$0]! < order[$1]! }) {
                problems.append("\(what): starts not in tree order: \(starts)")
            }
            if let leafStart = after.firstIndex(of: "start \(leaf)"),
                let early = after.indices.first(where: {
                    after[$0].hasPrefix("start ") && order[String(after[$0].dropFirst(6))]! > order[leaf]!
                        && $0 < leafStart
                })
            {
                problems.append("\(what): \(after[early]) before \(leaf) was back")
            }
            if let lastStop = after.lastIndex(where: { $0.hasPrefix("stop ") }),
                let firstStart = after.firstIndex(where: { $0.hasPrefix("start ") }),
                firstStart < lastStop
            {
                problems.append("\(what): a sibling started before the last sibling stopped: \(after)")
            }
        }
        return await cleanUp(run, board, problems)
    }

    /// Cancels the tree and checks that nothing runs after it and every start has one stop.
    static func cleanUp(_ run: Task<Void, any Error>, _ board: Switchboard, _ found: [String]) async -> [String] {
        var problems = found
        run.cancel()
        do { try await run.value } catch { problems.append("run() threw \(error)") }
        if !board.live.isEmpty { problems.append("running after the root stopped: \(board.live.sorted())") }
        var balance: [String: Int] = [:]
        for entry in board.journal {
            let parts = entry.split(separator: " ")
            balance[String(parts[1]), default: 0] += parts[0] == "start" ? 1 : -1
        }
        if let unmatched = balance.first(where: { $0.value != 0 }) {
            problems.append("\(unmatched.key): starts minus stops = \(unmatched.value)")
        }
        return problems
    }

    /// The strategy of the group holding `leaf`, its children, and the index of the child holding `leaf`.
    static func parent(of leaf: String, in node: Node) -> (GroupStrategy, [Node], Int)? {
        guard case .group(_, let strategy, let children) = node else { return nil }
        for (index, child) in children.enumerated() {
            if case .leaf(let name, _) = child, name == leaf { return (strategy, children, index) }
            if let found = parent(of: leaf, in: child) { return found }
        }
        return nil
    }

    static func isTransient(_ leaf: String, in node: Node) -> Bool {
        switch node {
        case .leaf(let name, let transient): name == leaf && transient
        case .group(_, _, let children): children.contains { isTransient(leaf, in: $0) }
        }
    }
}
