// The runnable demonstration behind `make run` until srt-relay exists: prints the first delays of every
// backoff kind with its defaults, reproducibly (seed 1), and the libsrt the adapter runs on.
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

print("libsrt \(SRTVersion.runtime) (headers \(SRTVersion.headers))\n")
print("First 10 delays in seconds of each backoff kind with its defaults, SplitMix64(seed: 1):\n")
for (name, backoff) in kinds {
    var generator = SplitMix64(seed: 1)
    var schedule = backoff.makeSchedule()
    let delays = (1...10).compactMap { _ in schedule.next(using: &generator) }
    let text = delays.map { delay in
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) * 1e-18
        return String(Int((seconds * 1000).rounded()))
    }
    let label = name + String(repeating: " ", count: max(0, 32 - name.count))
    print(label, text.joined(separator: " "), "ms")
}
