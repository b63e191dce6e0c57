import Foundation
import Logging
import NetworkMonitor
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// The goal for network-change wake-ups: an SRT listener that cannot bind while its address is absent
    /// comes up within milliseconds of the address's return when a `NetworkChangeMonitor` wakes it, instead of
    /// waiting out its backoff. Measured in a private network namespace (127.0.0.2 added and removed on `lo`), in
    /// the same run with and without the monitor, same policy.
    @Suite("Network-change wake-ups")
    struct NetworkWakeTests {
        @Test(
            "address restored → listener ready: measured with and without the monitor (goal p99 ≤ 50 ms with it)",
            .enabled(if: NamespaceChild.isAvailable))
        func wakeOnAddress() async throws {
            let text = try await NamespaceChild.run(
                filter: "NetworkWakeChild",
                setup: [
                    ["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "del", "127.0.0.1/8", "dev", "lo"],
                    ["ip", "addr", "add", "127.0.0.1/32", "dev", "lo"],
                ],
                limit: .seconds(150))
            for line in text.split(separator: "\n") where line.contains("WAKE") || line.contains("FAIL") {
                print(line)
            }
            #expect(text.contains("WAKE OK"), "\(text)")
        }
    }
}

/// The child's side of ``Loopback/NetworkWakeTests``; enabled only inside the namespace.
@Suite("NetworkWakeChild")
struct NetworkWakeChild {
    @Test(.enabled(if: NamespaceChild.isChild("NetworkWakeChild")))
    func scenario() async {
        do {
            try await NetworkWakeScenario.run()
        } catch {
            print("FAIL: \(error)")
        }
        NamespaceChild.end()
    }
}

enum NetworkWakeScenario {
    static let trials = 15
    /// The backoff's cap: every delay is U(0, 1 s) once the listener has failed a few times.
    static let cap = Duration.seconds(1)

    static func run() async throws {
        let check = SocketReplacedScenario.check
        let quiet = Logger(label: "wake", factory: { _ in SwiftLogNoOpLogHandler() })
        let monitor = NetworkChangeMonitor(logger: quiet)
        let monitoring = Task { try await monitor.run() }
        defer { monitoring.cancel() }

        var with: [Duration] = []
        var spread: [Duration] = []
        var without: [Duration] = []
        for trial in 0..<trials {
            with.append(try await restoreTime(port: 48_000 + trial, monitor: monitor, spread: .zero))
            spread.append(
                try await restoreTime(
                    port: 48_200 + trial, monitor: monitor,
                    spread: ResourceSupervisor<SRTListener>.defaultWakeSpread))
            without.append(try await restoreTime(port: 48_100 + trial, monitor: nil, spread: .zero))
        }
        check(monitor.changes > 0, "the monitor saw the address changes")
        let withP99 = percentile(with, 0.99)
        let withoutMean = without.reduce(.zero, +) / without.count
        print(
            "WAKE \(trials) trials, address added → ready: with the monitor p50 \(ms(percentile(with, 0.5))) ms, p99 \(ms(withP99)) ms; with the default spread p50 \(ms(percentile(spread, 0.5))) ms, p99 \(ms(percentile(spread, 0.99))) ms; without p50 \(ms(percentile(without, 0.5))) ms, p99 \(ms(percentile(without, 0.99))) ms, mean \(ms(withoutMean)) ms (cap \(ms(cap)) ms, full jitter)"
        )
        // The goal (p99 ≤ 50 ms) is the measurement printed above; the checks fail a monitor that does not work (it
        // would give about a third of the cap), not one slowed down by a loaded CI machine.
        check(withP99 <= .milliseconds(300), "p99 with the monitor ≤ 300 ms (goal 50 ms): \(ms(withP99)) ms")
        let withMean = with.reduce(.zero, +) / with.count
        check(withoutMean > withMean * 3, "the monitor makes the difference: \(ms(withMean)) vs \(ms(withoutMean)) ms")
        print("WAKE OK")
    }

    /// Starts a server on the absent 127.0.0.2, lets it fail and back off, adds the address, and returns the time
    /// from the `ip addr add` to the ready event; then removes the address and stops the server.
    static func restoreTime(port: Int, monitor: NetworkChangeMonitor?, spread: Duration) async throws -> Duration {
        let check = SocketReplacedScenario.check
        let policy = try RestartPolicy(backoff: Backoff.exponential(initial: cap, maximum: cap).jitter(.full))
        let readyAt = Mutex<ContinuousClock.Instant?>(nil)
        let server = SRTServer(
            configuration: try SRTListenerConfiguration(host: "127.0.0.2", port: port, latency: .milliseconds(40)),
            name: "wake-\(port)",
            policy: policy,
            // Timed in the supervisor's task as it logs `ready`, not when an event consumer gets to it.
            logger: Logger(label: "wake") { _ in ReadyCallingLogHandler { readyAt.withLock { $0 = .now } } })
        // Without a spread, this measures the monitor's own latency (the default spread adds U(0, 100 ms)).
        let registration = monitor?.add(server.supervisor, spread: spread)
        defer { if let registration { monitor?.remove(registration) } }
        let failures = Atomic(0)
        let events = server.supervisor.events()
        let watcher = Task {
            for await event in events {
                if case .failed = event { failures.add(1, ordering: .relaxed) }
            }
        }
        let running = Task { try await server.run() }
        defer {
            running.cancel()
            watcher.cancel()
        }
        let failed = await TestSupport.eventually(within: .seconds(3)) { failures.load(ordering: .relaxed) > 0 }
        check(failed, "the listener fails while the address is absent")
        // Somewhere inside a backoff, at a random point of it.
        try await Task.sleep(for: .milliseconds(Int64.random(in: 300...1_300)))
        check(readyAt.withLock { $0 } == nil, "not ready before the address exists")
        let added = ContinuousClock.now
        try NamespaceChild.ip(["addr", "add", "127.0.0.2/32", "dev", "lo"])
        let up = await TestSupport.eventually(within: .seconds(3)) { readyAt.withLock { $0 } != nil }
        check(up, "ready once the address exists")
        let elapsed = try readyAt.withLock { $0 }.orThrow("ready instant") - added
        running.cancel()
        _ = try? await running.value
        try NamespaceChild.ip(["addr", "del", "127.0.0.2/32", "dev", "lo"])
        return elapsed
    }

    static func percentile(_ values: [Duration], _ fraction: Double) -> Duration {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
    }

    static func ms(_ duration: Duration) -> String {
        SocketReplacedScenario.milliseconds(duration)
    }
}
