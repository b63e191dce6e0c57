import Foundation
import Logging
import Supervisor
import Synchronization
import Testing

/// Restarts at zero delay must leave the cooperative pool to everyone else. Timing-sensitive, so `make test` runs
/// this suite apart from the parallel phase (see the Makefile).
@Suite("Pool starvation", .timeLimit(.minutes(1)))
struct PoolStarvationTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("zero-delay restarts of two supervisors starve nothing: a 10 ms sleeper wakes within 50 ms")
    func zeroDelayDoesNotStarvePool() async {
        // In a child process (an exit test): the measurement needs the cooperative pool to itself. `make test` runs
        // this suite on its own, after the parallel phase, so the machine's other tests do not take the cores.
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            // A starved pool never gets back here: a thread outside it ends the child after 20 s instead.
            Thread.detachNewThread {
                sleep(20)
                print("the sleeper never woke within 20 s: the pool is starved")
                exit(2)
            }
            // Exits 0 either way so that the parent sees the figures of a failed run as well.
            let (passed, report) = await Self.zeroDelayScenario()
            print(report + (passed ? "verdict: within bounds" : "verdict: out of bounds"))
            exit(0)
        }
        guard let result else { return }
        let output = String(decoding: result.standardOutputContent, as: UTF8.self)
        print(output)
        #expect(output.contains("verdict: within bounds"), "\(output)")
    }

    /// Two supervisors whose start fails at once with zero delay (asked for explicitly, then the standard floor),
    /// beside a task that sleeps 10 ms five times: whether the sleeper always woke within 50 ms and cancelling
    /// both took at most 10 ms, with what was measured.
    static func zeroDelayScenario() async -> (Bool, String) {
        var passed = true
        var report = ""
        for (label, policy) in [
            ("zero", try! RestartPolicy(backoff: .constant(.zero), minimumRestartDelay: .zero)),
            ("standard floor", try! RestartPolicy(backoff: .constant(.zero))),
        ] {
            let resources = [AlwaysRefused(), AlwaysRefused()]
            let supervisors = resources.map { ResourceSupervisor($0, name: "zero", policy: policy, logger: quiet) }
            let tasks = supervisors.map { supervisor in Task { try await supervisor.run() } }
            // Both are going through restarts before the sleeper starts.
            for resource in resources { await resource.waitForCalls(label == "zero" ? 1_000 : 10) }
            var worst = Duration.zero
            for _ in 0..<5 {
                let asked = ContinuousClock.now
                try? await Task.sleep(for: .milliseconds(10))
                worst = max(worst, ContinuousClock.now - asked)
            }
            let cancelled = ContinuousClock.now
            for task in tasks { task.cancel() }
            for task in tasks { _ = try? await task.value }
            let took = ContinuousClock.now - cancelled
            let requested = supervisors.allSatisfy { $0.state.stopReason?.isRequested == true }
            let starts = resources.map(\.calls)
            report += "\(label): 10 ms sleep woke after at most \(worst), cancel took \(took), starts \(starts)\n"
            if worst > .milliseconds(50) || took > .milliseconds(10) || !requested { passed = false }
        }
        return (passed, report)
    }
}

private struct Refused: Error {}

/// A resource whose start always fails at once, counting calls.
private final class AlwaysRefused: Restartable, Sendable {
    private let counter = Atomic(0)

    var calls: Int { counter.load(ordering: .relaxed) }

    func start() async throws -> Int {
        counter.add(1, ordering: .relaxed)
        throw Refused()
    }

    func run(_ instance: Int) async throws {}
    func stop(_ instance: Int) async {}

    /// Returns once `count` starts were made (polling, bounded to 10 s).
    func waitForCalls(_ count: Int) async {
        let deadline = ContinuousClock.now + .seconds(10)
        while calls < count, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
