import Benchmark
import Logging
import Supervisor
import Synchronization

/// A start failure the classifier restarts.
struct Refused: Error {}

/// A resource whose `start()` fails `cycles` times and then stops supervision with a stop-class error.
struct FailingResource: Restartable {
    struct Done: ClassifiableError {
        var failureDecision: FailureDecision? { .stop }
    }

    let cycles: Int
    let calls = Counter()

    func start() async throws -> Int {
        if calls.increment() > cycles { throw Done() }
        throw Refused()
    }

    func run(_ instance: Int) async throws {}
    func stop(_ instance: Int) async {}
}

/// A resource whose first start fails and whose later starts succeed and run until cancelled; the second start
/// counts in `restarts`, which resumes `allRestarted` when it reaches `expected`.
struct FailOnceResource: Restartable {
    let calls = Counter()
    let restarts: Counter
    let expected: Int
    let allRestarted: Latch?

    func start() async throws -> Int {
        if calls.increment() == 1 { throw Refused() }
        if restarts.increment() == expected { allRestarted?.open() }
        return 0
    }

    func run(_ instance: Int) async throws {
        try await Task.sleep(for: .seconds(86_400))
    }

    func stop(_ instance: Int) async {}
}

/// Resumes one waiting task, once.
final class Latch: Sendable {
    private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)

    /// Runs `body` (which leads to `open()`), then waits until `open()` was called.
    func wait(after body: () -> Void) async {
        await withCheckedContinuation { continuation in
            waiter.withLock { $0 = continuation }
            body()
        }
    }

    func open() {
        waiter.withLock { $0.take() }?.resume()
    }
}

final class Counter: Sendable {
    private let value = Atomic(0)

    /// Adds one and returns the new value.
    func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
    var current: Int { value.load(ordering: .relaxed) }
}

let quietLogger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

func supervisorBenchmarks() {
    let cycleConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 200
    )

    // One supervisor goes through `scaledIterations` cycles of: start() throws → classify → zero delay → restart.
    Benchmark("Supervisor: restart cycle (fail, classify, zero delay, restart)", configuration: cycleConfiguration) {
        benchmark in
        let policy = try RestartPolicy(backoff: .constant(.zero))
        let resource = FailingResource(cycles: benchmark.scaledIterations.count)
        let supervisor = ResourceSupervisor(resource, name: "bench", policy: policy, logger: quietLogger)
        benchmark.startMeasurement()
        try await supervisor.run()
        benchmark.stopMeasurement()
        precondition(resource.calls.current == benchmark.scaledIterations.count + 1)
    }

    // The same work written by hand: call start(), classify the error, take the next delay, loop.
    Benchmark(
        "Hand-written loop: restart cycle (fail, classify, zero delay, restart)", configuration: cycleConfiguration
    ) { benchmark in
        let resource = FailingResource(cycles: benchmark.scaledIterations.count)
        let classifier = FailureClassifier.default
        var schedule = try Backoff.constant(.zero).makeSchedule()
        var generator = SystemRandomNumberGenerator()
        benchmark.startMeasurement()
        loop: while true {
            do {
                _ = try await resource.start()
            } catch {
                switch classifier.classify(error) {
                case .stop: break loop
                default:
                    let delay = schedule.next(using: &generator) ?? .zero
                    if delay > .zero { try await Task.sleep(for: delay) }
                }
            }
        }
        benchmark.stopMeasurement()
        precondition(resource.calls.current == benchmark.scaledIterations.count + 1)
    }

    // The same work as a supervisor does per cycle, written by hand: read the clock for the failure's instant,
    // classify, take the next delay, publish the state where observers read it (under a lock), check for
    // cancellation. What it leaves out is what the library adds: events, logs, metrics, budgets, intensity.
    Benchmark(
        "Hand-written supervisor loop: restart cycle with clock, state and cancellation",
        configuration: cycleConfiguration
    ) { benchmark in
        let resource = FailingResource(cycles: benchmark.scaledIterations.count)
        let classifier = FailureClassifier.default
        var schedule = try Backoff.constant(.zero).makeSchedule()
        var generator = SystemRandomNumberGenerator()
        let clock = ContinuousClock()
        let origin = clock.now
        let state = Mutex<(failures: Int, lastFailure: Duration, delay: Duration)>((0, .zero, .zero))
        benchmark.startMeasurement()
        loop: while !Task.isCancelled {
            do {
                _ = try await resource.start()
            } catch {
                let now = origin.duration(to: clock.now)
                switch classifier.classify(error) {
                case .stop: break loop
                default:
                    let delay = schedule.next(using: &generator) ?? .zero
                    state.withLock { $0 = ($0.failures + 1, now, delay) }
                    if delay > .zero { try await Task.sleep(for: delay) }
                }
            }
        }
        benchmark.stopMeasurement()
        precondition(resource.calls.current == benchmark.scaledIterations.count + 1)
    }

    let parkedCount = 100_000
    let parkedMemory = BenchmarkMetric.custom("RSS while parked (MiB)", useScalingFactor: false)
    let wakeToResumed = BenchmarkMetric.custom("wake() all → all started again (ms)", useScalingFactor: false)
    let wakeToReady = BenchmarkMetric.custom("wake() all → all ready (ms)", useScalingFactor: false)
    Benchmark(
        "Supervisor: 100,000 parked in a 1-hour backoff, wake() all until all ready",
        configuration: .init(
            metrics: [parkedMemory, wakeToResumed, wakeToReady],
            maxDuration: .seconds(60),
            maxIterations: 3
        )
    ) { benchmark in
        let policy = try RestartPolicy(backoff: .constant(.seconds(3_600)))
        let restarts = Counter()
        let allRestarted = Latch()
        let supervisors = (0..<parkedCount).map { _ in
            ResourceSupervisor(
                FailOnceResource(restarts: restarts, expected: parkedCount, allRestarted: allRestarted),
                name: "parked",
                policy: policy,
                logger: quietLogger
            )
        }
        await withTaskGroup(of: Void.self) { group in
            for supervisor in supervisors {
                group.addTask { try? await supervisor.run() }
            }
            // Park: wait until every supervisor is backing off.
            while supervisors.contains(where: { if case .backingOff = $0.state { false } else { true } }) {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let parkedRSS = residentMemory()
            let clock = ContinuousClock()
            let start = clock.now
            // No polling while measuring: the last restart resumes this task.
            await allRestarted.wait {
                for supervisor in supervisors { supervisor.wake() }
            }
            let resumed = clock.now
            while supervisors.contains(where: { !$0.state.isReady }) { await Task.yield() }
            let ready = clock.now
            benchmark.measurement(wakeToResumed, Int((resumed - start) / .milliseconds(1)))
            benchmark.measurement(wakeToReady, Int((ready - start) / .milliseconds(1)))
            benchmark.measurement(parkedMemory, parkedRSS / 1_048_576)
            group.cancelAll()
        }
    }
}

/// How long a supervisor parked in a one-hour backoff takes to return from `run()` once asked to stop.
func shutdownBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock],
        timeUnits: .microseconds,
        maxDuration: .seconds(5),
        maxIterations: 200
    )
    Benchmark("Supervisor: cancellation in a one-hour backoff → run() returned", configuration: configuration) {
        benchmark in
        let policy = try RestartPolicy(backoff: .constant(.seconds(3_600)))
        let supervisor = ResourceSupervisor(
            FailOnceResource(restarts: Counter(), expected: 0, allRestarted: nil),
            name: "cancel",
            policy: policy,
            logger: quietLogger
        )
        let task = Task { try await supervisor.run() }
        while true {
            if case .backingOff = supervisor.state { break }
            await Task.yield()
        }
        benchmark.startMeasurement()
        task.cancel()
        try await task.value
        benchmark.stopMeasurement()
    }
}

/// The process's resident memory in bytes, from /proc/self/statm.
func residentMemory() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return pages * 4_096
}
