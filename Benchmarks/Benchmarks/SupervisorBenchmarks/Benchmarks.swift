import Benchmark

let benchmarks: @Sendable () -> Void = {
    backoffBenchmarks()
    supervisorBenchmarks()
    shutdownBenchmarks()
}
