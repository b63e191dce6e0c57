// A `.oneForAll` group of 1,000 children: the time from one child's failure until every child has been stopped and
// started again. Usage: swift run -c release group-restart [children] [rounds]
//
// Each child's start returns at once and its run waits for cancellation on a continuation (as a socket's receive
// loop waits on its reactor; `Task.sleep` would add a dispatch timer per child that is not the group's cost). Once
// the group is ready, the measurement fails one child's run and times, where they happen, the failure and the last
// of the 1,000 stops and 1,000 starts that follow (the failed child's own supervisor restarts it at once; the group
// stops the other 999 in reverse order and starts them again in order).
import Glibc
import Logging
import Supervisor
import Synchronization

struct Injected: Error {}

let arguments = Array(CommandLine.arguments.dropFirst())
let count = Int(arguments.first ?? "") ?? 1_000
let rounds = Int(arguments.dropFirst().first ?? "") ?? 20
let clock = ContinuousClock()

/// The stops and starts since the failure of this round, and who waits for the last of them.
struct Round: ~Copyable {
    var armed = false
    var stops = 0
    var starts = 0
    var done: UnsafeContinuation<ContinuousClock.Instant, Never>?

    /// Resumes the measurement once every child has stopped and started again, with the instant of the last step.
    mutating func settleIfDone() {
        guard armed, stops == count, starts == count, let done = done.take() else { return }
        armed = false
        done.resume(returning: clock.now)
    }
}

let round = Mutex(Round())

/// One run of a child: waits until it is cancelled (then throws `CancellationError`) or failed.
final class Running: Sendable {
    private struct State {
        var ended = false
        var failure: (any Error)?
        var parked: UnsafeContinuation<Void, any Error>?
    }

    private let state = Mutex(State())

    func park(_ continuation: UnsafeContinuation<Void, any Error>) {
        let ended = state.withLock { state in
            if !state.ended { state.parked = continuation }
            return state.ended
        }
        if ended { resume(continuation) }
    }

    /// Ends the run: with `error`, or with a `CancellationError` for `nil`.
    func end(_ error: (any Error)?) {
        let parked = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            guard !state.ended else { return nil }
            state.ended = true
            state.failure = error
            return state.parked.take()
        }
        if let parked { resume(parked) }
    }

    private func resume(_ continuation: UnsafeContinuation<Void, any Error>) {
        continuation.resume(throwing: state.withLock { $0.failure } ?? CancellationError())
    }
}

/// Where the measurement finds a child's current run, to fail it.
final class Slot: Sendable {
    let current = Mutex<Running?>(nil)
}

/// A child: counts its stops and starts toward the round, and registers each run in its slot.
struct Child: Restartable {
    let slot: Slot

    func start() async throws -> Int {
        round.withLock { round in
            guard round.armed else { return }
            round.starts += 1
            round.settleIfDone()
        }
        return 0
    }

    func run(_ instance: Int) async throws {
        let running = Running()
        slot.current.withLock { $0 = running }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { running.park($0) }
        } onCancel: {
            running.end(nil)
        }
    }

    func stop(_ instance: Int) async {
        round.withLock { round in
            guard round.armed else { return }
            round.stops += 1
            round.settleIfDone()
        }
    }
}

/// User and system CPU time of the whole process so far.
func cpuTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func duration(_ time: timeval) -> Duration { .seconds(time.tv_sec) + .microseconds(time.tv_usec) }
    return duration(usage.ru_utime) + duration(usage.ru_stime)
}

func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let value = Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    return "\((value * 100).rounded() / 100) ms"
}

let quiet = Logger(label: "restart", factory: { _ in SwiftLogNoOpLogHandler() })
// The failed child restarts at once.
let policy = try RestartPolicy(backoff: .constant(.zero), minimumRestartDelay: .zero)
let slots = (0..<count).map { _ in Slot() }
let group = try SupervisorGroup(
    name: "all", strategy: .oneForAll, intensity: nil, maxChildren: count,
    children: try slots.enumerated().map { index, slot in
        try GroupChild.resource(Child(slot: slot), name: "child-\(index)", policy: policy)
    },
    logger: quiet)
let running = Task { try? await group.run() }
let readyBy = clock.now + .seconds(60)
while !group.state.isReady, clock.now < readyBy { try? await Task.sleep(for: .milliseconds(10)) }
guard group.state.isReady else {
    print("the group did not get ready")
    exit(1)
}
/// `RESTART_PAUSE=1`: two seconds of quiet before the rounds and after them, to attach `perf record -p` to them.
if getenv("RESTART_PAUSE") != nil {
    print("pid \(getpid())")
    try? await Task.sleep(for: .seconds(2))
}

var took: [Duration] = []
var cpu: [Duration] = []
for index in 0..<rounds {
    // Let the group take the last report of the round before: the next failure starts from a settled group.
    try? await Task.sleep(for: .milliseconds(100))
    let victim = (count / 2 + index * 37) % count
    let cpuBefore = cpuTime()
    var failedAt = clock.now
    let settledAt = await withUnsafeContinuation { continuation in
        round.withLock { round in
            round = Round(armed: true, done: continuation)
        }
        let run = slots[victim].current.withLock { $0 }
        failedAt = clock.now
        run?.end(Injected())
    }
    took.append(settledAt - failedAt)
    cpu.append(cpuTime() - cpuBefore)
}
if getenv("RESTART_PAUSE") != nil { try? await Task.sleep(for: .seconds(2)) }

try? await Task.sleep(for: .milliseconds(100))
let everyoneRuns = group.snapshot().children.allSatisfy { $0.status == .running }
running.cancel()
await running.value

let sorted = took.sorted()
print(
    "\(count) children, one for all, \(rounds) rounds: failure → all stopped and started again: "
        + "median \(milliseconds(sorted[sorted.count / 2])), worst \(milliseconds(sorted.last!)), "
        + "best \(milliseconds(sorted.first!))")
print("  CPU per round (both cores): median \(milliseconds(cpu.sorted()[cpu.count / 2]))")
print("  every round: \(took.map { milliseconds($0) }.joined(separator: ", "))")
if !everyoneRuns { print("NOT every child runs at the end") }
exit(everyoneRuns ? 0 : 1)
