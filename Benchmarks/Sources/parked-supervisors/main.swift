// 100,000 supervisors parked in a one-hour backoff, measured outside the benchmark harness (whose malloc interposer
// adds a header to every allocation): resident memory while parked, then wake() of all until every one has started
// its next attempt. Usage: swift run -c release parked-supervisors [count]
import Foundation
import Logging
import Supervisor
import Synchronization

struct Refused: Error {}

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 100_000
let restarted = Atomic(0)
let allRestarted = Mutex<CheckedContinuation<Void, Never>?>(nil)

/// Fails its first start; every later start succeeds, and the last of them resumes the measuring task.
final class FailOnce: Restartable, Sendable {
    private let failed = Atomic(false)

    func start() async throws -> Int {
        if !failed.exchange(true, ordering: .relaxed) { throw Refused() }
        if restarted.add(1, ordering: .relaxed).newValue == count { allRestarted.withLock { $0.take() }?.resume() }
        return 0
    }

    func run(_ instance: Int) async throws { try await Task.sleep(for: .seconds(86_400)) }
    func stop(_ instance: Int) async {}
}

func residentBytes() -> Int {
    let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
    return (statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 4_096
}

let quiet = Logger(label: "parked", factory: { _ in SwiftLogNoOpLogHandler() })
let policy = try RestartPolicy(backoff: .constant(.seconds(3_600)))
let base = residentBytes()
let supervisors = (0..<count).map { _ in ResourceSupervisor(FailOnce(), name: "parked", policy: policy, logger: quiet) }
let created = residentBytes()
await withTaskGroup(of: Void.self) { group in
    for supervisor in supervisors { group.addTask { try? await supervisor.run() } }
    while supervisors.contains(where: { if case .backingOff = $0.state { false } else { true } }) {
        try? await Task.sleep(for: .milliseconds(20))
    }
    let parked = residentBytes()
    print(
        "\(count) supervisors: \((created - base) / count) B each as objects, \((parked - base) / count) B each parked")
    print("resident while parked: \(parked / 1_048_576) MiB")
    let clock = ContinuousClock()
    let start = clock.now
    await withCheckedContinuation { continuation in
        allRestarted.withLock { $0 = continuation }
        for supervisor in supervisors { supervisor.wake() }
    }
    print("wake() of all → all started again: \(clock.now - start)")
    group.cancelAll()
}
