import Benchmark
import Supervisor

/// One delay of an exponential backoff with full jitter: the work a supervisor does per restart to decide how
/// long to wait. Compared with cenkalti/backoff's `NextBackOff` in Docs/benchmarks.md.
func backoffBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .instructions, .mallocCountTotal],
        scalingFactor: .mega,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )

    Benchmark("Backoff.next: exponential + full jitter", configuration: configuration) { benchmark in
        let backoff = try Backoff.exponential(initial: .milliseconds(500), multiplier: 1.5, maximum: .seconds(60))
            .jitter(.full)
        var schedule = backoff.makeSchedule()
        var generator = SplitMix64(seed: 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            // Restart the schedule now and then, so the measurement covers the growing part, not only the cap.
            if schedule.retries == 16 { schedule.reset() }
            blackHole(schedule.next(using: &generator))
        }
    }

    Benchmark("Backoff.next: decorrelated", configuration: configuration) { benchmark in
        var schedule = try Backoff.decorrelated(base: .milliseconds(500), maximum: .seconds(60)).makeSchedule()
        var generator = SplitMix64(seed: 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            if schedule.retries == 16 { schedule.reset() }
            blackHole(schedule.next(using: &generator))
        }
    }
}
