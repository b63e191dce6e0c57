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

/// A resource whose first start fails; it never starts again within a benchmark (the backoff is an hour long).
struct FailOnceResource: Restartable {
    let calls = Counter()

    func start() async throws -> Int {
        if calls.increment() == 1 { throw Refused() }
        return 0
    }

    func run(_ instance: Int) async throws {}
    func stop(_ instance: Int) async {}
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
        // No floor: the cycle itself, not the 5 ms a standard policy waits between restarts.
        let policy = try RestartPolicy(backoff: .constant(.zero), minimumRestartDelay: .zero)
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
                    // As the supervisor does: a restart at once still yields, or two such loops starve the pool.
                    if delay > .zero { try await Task.sleep(for: delay) } else { await Task.yield() }
                }
            }
        }
        benchmark.stopMeasurement()
        precondition(resource.calls.current == benchmark.scaledIterations.count + 1)
    }

    // 100,000 parked supervisors are measured by the `parked-supervisors` executable instead: this harness's
    // malloc interposer adds a header to every allocation, which doubles their resident memory.
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
            FailOnceResource(),
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
