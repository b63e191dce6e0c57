import Supervisor
import Synchronization
import Testing

/// Resources whose runs a test ends on demand, with one journal of every start and stop in the order they happened:
/// what the group runner's tests observe.
final class Switchboard: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) failed" }
    }

    private struct Runs {
        var journal: [String] = []
        /// The pending run of each resource that is running.
        var running: [String: CheckedContinuation<Void, any Error>] = [:]
        /// Resources whose next starts throw.
        var failingStarts: [String: Int] = [:]
        var live: Set<String> = []
    }

    private let runs = Mutex(Runs())

    /// Every `start X` and `stop X` so far.
    var journal: [String] { runs.withLock { $0.journal } }

    /// The resources that are started and not yet stopped.
    var live: Set<String> { runs.withLock { $0.live } }

    func resource(_ name: String) -> RestartableResource<String> {
        RestartableResource(
            start: { [self] in
                try runs.withLock { runs in
                    if let count = runs.failingStarts[name], count > 0 {
                        runs.failingStarts[name] = count - 1
                        throw Failure(name: name)
                    }
                    runs.journal.append("start \(name)")
                    runs.live.insert(name)
                }
                return name
            },
            run: { [self] name in try await run(name) },
            stop: { [self] name in
                runs.withLock { runs in
                    runs.journal.append("stop \(name)")
                    runs.live.remove(name)
                }
            })
    }

    /// Makes the next `count` starts of `name` throw.
    func failStarts(_ name: String, count: Int) {
        runs.withLock { $0.failingStarts[name] = count }
    }

    /// Ends the current run of `name` with a failure; `false` when it is not running.
    @discardableResult
    func fail(_ name: String) -> Bool {
        let run = runs.withLock { $0.running.removeValue(forKey: name) }
        run?.resume(throwing: Failure(name: name))
        return run != nil
    }

    /// Ends the current run of `name` normally; `false` when it is not running.
    @discardableResult
    func complete(_ name: String) -> Bool {
        let run = runs.withLock { $0.running.removeValue(forKey: name) }
        run?.resume()
        return run != nil
    }

    /// Whether `name` is in its run now.
    func isRunning(_ name: String) -> Bool {
        runs.withLock { $0.running[name] != nil }
    }

    private func run(_ name: String) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                runs.withLock { $0.running[name] = continuation }
                // Cancelled before the continuation was registered: the handler found nothing to end.
                if Task.isCancelled { cancel(name) }
            }
        } onCancel: {
            cancel(name)
        }
    }

    private func cancel(_ name: String) {
        runs.withLock { $0.running.removeValue(forKey: name) }?.resume(throwing: CancellationError())
    }

    /// Waits until `condition` holds, in real time, for at most 10 s; records an issue if it never does.
    func waitUntil(
        _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ condition: (Switchboard) -> Bool
    ) async {
        for _ in 0..<10_000 {
            if condition(self) { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("timed out waiting for \(what); journal: \(journal)", sourceLocation: sourceLocation)
    }
}
