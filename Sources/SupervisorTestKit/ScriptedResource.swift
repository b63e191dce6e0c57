public import Supervisor
import Synchronization

/// A ``Restartable`` that follows a script of start failures, run durations and endings, and keeps a ledger of
/// everything the supervisor did with it: for testing supervisors, policies and your own wiring.
///
/// ```swift
/// let clock = TestClock()
/// let resource = ScriptedResource(clock: clock, script: [
///     .failStart(Refused()),                         // attempt 1: start() throws
///     .run(for: .seconds(5), then: .fail(Reset())),  // attempt 2: ready, dies after 5 s
///     .run(for: .seconds(60), then: .complete),      // attempt 3: ready, run() returns after 60 s
/// ])
/// let supervisor = ResourceSupervisor(resource, name: "test", clock: clock)
/// // … drive the clock, then check the ledger:
/// #expect(resource.ledger.snapshot.starts == 2)
/// ```
///
/// When the script runs out, every further start succeeds and runs until it is cancelled.
public struct ScriptedResource: Restartable {
    /// One start of the resource.
    public enum Step: Sendable {
        /// `start()` throws this error.
        case failStart(any Error)
        /// `start()` succeeds; `run(_:)` lasts `duration` on the clock, then ends as `ending` says.
        case run(for: Duration, then: Ending)
    }

    /// How a scripted run ends.
    public enum Ending: Sendable {
        /// `run(_:)` throws this error.
        case fail(any Error)
        /// `run(_:)` returns normally.
        case complete
        /// `run(_:)` waits until it is cancelled.
        case hang
    }

    /// An instance handed out by `start()`: its number in the order of successful starts.
    public struct Instance: Hashable, Sendable {
        public let id: Int
    }

    private let clock: any Clock<Duration>
    private let script: [Step]
    /// What happened so far; shared by every copy of this resource.
    public let ledger = Ledger()

    public init(clock: any Clock<Duration>, script: [Step]) {
        self.clock = clock
        self.script = script
    }

    public func start() async throws -> Instance {
        let step = ledger.beginStart(scriptLength: script.count)
        guard let step else { return ledger.started() }  // past the script: succeed
        if case .failStart(let error) = script[step] {
            ledger.startFailed()
            throw error
        }
        return ledger.started()
    }

    public func run(_ instance: Instance) async throws {
        ledger.runBegan(instance)
        defer { ledger.runReturned(instance) }
        let step = ledger.step(of: instance)
        guard let step, case .run(let duration, let ending) = script[step] else {
            try await sleepForever()
            return
        }
        try await clock.sleep(for: duration)
        switch ending {
        case .fail(let error): throw error
        case .complete: return
        case .hang: try await sleepForever()
        }
    }

    public func stop(_ instance: Instance) async {
        ledger.stopped(instance)
    }

    /// Suspends until the task is cancelled, then throws `CancellationError`. Independent of the clock: a
    /// clock whose sleeps return at once would otherwise turn "forever" into a busy loop.
    private func sleepForever() async throws {
        let gate = Mutex<GateState>(.open)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let cancelledAlready = gate.withLock { state -> Bool in
                    guard case .open = state else { return true }
                    state = .parked(continuation)
                    return false
                }
                if cancelledAlready { continuation.resume() }
            }
        } onCancel: {
            let parked = gate.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state = .cancelled }
                if case .parked(let continuation) = state { return continuation }
                return nil
            }
            parked?.resume()
        }
        throw CancellationError()
    }

    private enum GateState {
        case open
        case parked(CheckedContinuation<Void, Never>)
        case cancelled
    }
}

extension ScriptedResource {
    /// The record of what a supervisor did with a ``ScriptedResource``, and the violations of its contract.
    public final class Ledger: Sendable {
        /// A copy of the ledger's counts.
        public struct Snapshot: Sendable, Equatable {
            /// Calls of `start()`, successful or not.
            public var startCalls = 0
            /// Successful starts.
            public var starts = 0
            /// Calls of `stop(_:)`.
            public var stops = 0
            /// `run(_:)` calls that have returned or thrown.
            public var runsReturned = 0
            /// `run(_:)` calls in progress.
            public var runsInProgress = 0
            /// Contract violations seen: a second stop, a stop of an unknown instance, a stop while running, a
            /// start while an instance was still live.
            public var violations: [String] = []
        }

        private struct State {
            var snapshot = Snapshot()
            var nextStep = 0
            var stepOfInstance: [Int: Int] = [:]
            var live: Set<Int> = []
            var running: Set<Int> = []
            var pendingStep: Int?
        }

        private let state = Mutex(State())

        public init() {}

        /// The counts so far.
        public var snapshot: Snapshot { state.withLock { $0.snapshot } }

        func beginStart(scriptLength: Int) -> Int? {
            state.withLock { state in
                state.snapshot.startCalls += 1
                if !state.live.isEmpty { state.snapshot.violations.append("start while \(state.live) live") }
                guard state.nextStep < scriptLength else {
                    state.pendingStep = nil
                    return nil
                }
                defer { state.nextStep += 1 }
                state.pendingStep = state.nextStep
                return state.nextStep
            }
        }

        func startFailed() {
            state.withLock { $0.pendingStep = nil }
        }

        func started() -> Instance {
            state.withLock { state in
                let id = state.snapshot.starts
                state.snapshot.starts += 1
                state.live.insert(id)
                if let step = state.pendingStep { state.stepOfInstance[id] = step }
                state.pendingStep = nil
                return Instance(id: id)
            }
        }

        func step(of instance: Instance) -> Int? {
            state.withLock { $0.stepOfInstance[instance.id] }
        }

        func runBegan(_ instance: Instance) {
            state.withLock { state in
                state.snapshot.runsInProgress += 1
                state.running.insert(instance.id)
            }
        }

        func runReturned(_ instance: Instance) {
            state.withLock { state in
                state.snapshot.runsInProgress -= 1
                state.snapshot.runsReturned += 1
                state.running.remove(instance.id)
            }
        }

        func stopped(_ instance: Instance) {
            state.withLock { state in
                state.snapshot.stops += 1
                if state.running.contains(instance.id) {
                    state.snapshot.violations.append("stop of \(instance.id) while its run was in progress")
                }
                if state.live.remove(instance.id) == nil {
                    state.snapshot.violations.append("stop of \(instance.id), which was not live")
                }
            }
        }
    }
}
