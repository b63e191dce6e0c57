// Prints the first delays of every backoff kind with its defaults, reproducibly (seed 1), and the libsrt the adapter
// runs on. With `--csv`, writes the data behind Docs/policies.md's plots instead: for each kind and attempt, the
// 10th, 50th and 90th percentile of the delay over 1,000 seeded runs (`Benchmarks/plot_backoff.py` draws them).
import Foundation
import SRTAdapter
import Supervisor

let kinds: [(String, Backoff)] = try [
    ("constant", .constant()),
    ("linear", .linear()),
    ("exponential", .exponential()),
    ("exponential + full jitter", .exponential().jitter(.full)),
    ("exponential + equal jitter", .exponential().jitter(.equal)),
    (
        "gRPC (1 s ×1.6 max 120 s ±20%)",
        .exponential(initial: .seconds(1), multiplier: 1.6, maximum: .seconds(120))
            .jitter(.proportional(0.2))
    ),
    ("decorrelated", .decorrelated()),
    ("soft-exponential", .softExponential()),
    ("steps (systemd RestartSteps)", .steps()),
]

func seconds(_ delay: Duration) -> Double {
    Double(delay.components.seconds) + Double(delay.components.attoseconds) * 1e-18
}

if CommandLine.arguments.contains("--csv") {
    print("kind,attempt,p10,p50,p90")
    for (name, backoff) in kinds {
        var samples = Array(repeating: [Double](), count: 12)
        for run in 0..<1_000 {
            var generator = SplitMix64(seed: UInt64(run))
            var schedule = backoff.makeSchedule()
            for attempt in 0..<12 { samples[attempt].append(schedule.next(using: &generator).map(seconds) ?? .nan) }
        }
        for (attempt, values) in samples.enumerated() {
            let sorted = values.sorted()
            let row = [sorted[100], sorted[500], sorted[900]].map { String(format: "%.4f", $0) }
            print("\"\(name)\",\(attempt + 1),\(row.joined(separator: ","))")
        }
    }
    exit(0)
}

print("libsrt \(SRTVersion.runtime) (headers \(SRTVersion.headers))\n")
print("First 10 delays in seconds of each backoff kind with its defaults, SplitMix64(seed: 1):\n")
for (name, backoff) in kinds {
    var generator = SplitMix64(seed: 1)
    var schedule = backoff.makeSchedule()
    let delays = (1...10).compactMap { _ in schedule.next(using: &generator) }
    let text = delays.map { delay in
        String(Int((seconds(delay) * 1000).rounded()))
    }
    let label = name + String(repeating: " ", count: max(0, 32 - name.count))
    print(label, text.joined(separator: " "), "ms")
}
