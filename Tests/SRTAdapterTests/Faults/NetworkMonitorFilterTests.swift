import Foundation
import Logging
import NetworkMonitor
import Supervisor
import Synchronization
import Testing

extension Loopback {
    /// What wakes supervisors and what does not, against the real kernel in a private network namespace: a route of
    /// another table and an IPv6 address still in duplicate address detection wake no one; the address wakes them
    /// once detection ends, a main-table route at once; a removed registration is not called; and when the kernel
    /// drops messages (ENOBUFS, provoked with a small receive buffer and a burst), every registration is woken and the
    /// buffer raised.
    @Suite("Network-change monitor: what wakes")
    struct NetworkMonitorFilterTests {
        @Test(
            "other tables and tentative addresses wake no one; ENOBUFS wakes everyone and raises the buffer",
            .enabled(if: NamespaceChild.isAvailable))
        func filtersAndOverflows() async throws {
            let text = try await NamespaceChild.run(
                filter: "NetworkMonitorFilterChild",
                setup: [
                    ["ip", "link", "set", "lo", "up"],
                    // A veth pair with a carrier, so that IPv6 duplicate address detection runs; no link-local
                    // address of its own, whose detection would wake the monitor in the middle of the test.
                    ["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                    ["ip", "link", "set", "v0", "addrgenmode", "none"],
                    ["ip", "link", "set", "v1", "addrgenmode", "none"],
                    ["ip", "link", "set", "v0", "up"],
                    ["ip", "link", "set", "v1", "up"],
                ],
                limit: .seconds(60))
            for line in text.split(separator: "\n") where line.contains("FILTER") || line.contains("FAIL") {
                print(line)
            }
            #expect(text.contains("FILTER OK"), "\(text)")
        }
    }
}

/// The child's side of ``Loopback/NetworkMonitorFilterTests``; enabled only inside the namespace.
@Suite("NetworkMonitorFilterChild")
struct NetworkMonitorFilterChild {
    @Test(.enabled(if: NamespaceChild.isChild("NetworkMonitorFilterChild")))
    func scenario() async {
        do {
            try await NetworkMonitorFilterScenario.run()
        } catch {
            print("FAIL: \(error)")
        }
        NamespaceChild.end()
    }
}

enum NetworkMonitorFilterScenario {
    static let quiet = Logger(label: "filter", factory: { _ in SwiftLogNoOpLogHandler() })

    static func run() async throws {
        let check = SocketReplacedScenario.check
        let monitor = NetworkChangeMonitor(logger: quiet)
        let kept = Atomic(0)
        let removed = Atomic(0)
        monitor.add { kept.add(1, ordering: .relaxed) }
        let registration = monitor.add { removed.add(1, ordering: .relaxed) }
        monitor.remove(registration)
        check(monitor.registrations == 1, "one registration left")
        let monitoring = Task { try await monitor.run() }
        defer { monitoring.cancel() }
        check(await TestSupport.eventually { monitor.receiveBufferBytes > 0 }, "the monitor listens")
        // Whatever setup left in flight has passed.
        try await Task.sleep(for: .milliseconds(300))
        let quietStart = kept.load(ordering: .relaxed)

        // A route of another table: no bind or connect of ours uses it.
        try NamespaceChild.ip(["route", "add", "10.9.9.0/24", "dev", "v0", "table", "100"])
        // An IPv6 address in duplicate address detection (about a second on a link with a carrier): a bind to it
        // fails with EADDRNOTAVAIL until detection ends.
        let added = ContinuousClock.now
        try NamespaceChild.ip(["-6", "addr", "add", "fd00::1/64", "dev", "v0", "noprefixroute"])
        try await Task.sleep(for: .milliseconds(300))
        let afterQuiet = kept.load(ordering: .relaxed)
        print("FILTER other-table route and tentative address: \(afterQuiet - quietStart) wake-ups in 300 ms")
        check(afterQuiet == quietStart, "no wake-up for another table's route or a tentative address")

        // Detection ends: the address is usable now, and that wakes.
        let usable = await TestSupport.eventually(within: .seconds(5)) { kept.load(ordering: .relaxed) > afterQuiet }
        print(
            "FILTER the address woke after its detection, \(SocketReplacedScenario.milliseconds(added.duration(to: .now))) ms after it was added"
        )
        check(usable, "a wake-up once the address is usable")

        // A supervisor that has ended (cancelled here) leaves at the next change.
        let ended = ResourceSupervisor(
            RestartableResource<Int>(start: { 1 }, run: { _ in try await Task.sleep(for: .seconds(3_600)) }),
            name: "ended", logger: quiet)
        monitor.add(ended)
        let supervising = Task { try? await ended.run() }
        supervising.cancel()
        await supervising.value
        check(monitor.registrations == 2, "the ended supervisor is registered until the next change")

        // A route of the main table wakes at once.
        let beforeRoute = kept.load(ordering: .relaxed)
        try NamespaceChild.ip(["route", "add", "10.9.8.0/24", "dev", "v0"])
        check(
            await TestSupport.eventually(within: .seconds(2)) { kept.load(ordering: .relaxed) > beforeRoute },
            "a main-table route wakes")
        check(removed.load(ordering: .relaxed) == 0, "the removed registration was never called")
        check(monitor.registrations == 1, "the ended supervisor left at the change: \(monitor.registrations)")

        try await overflow()
        print("FILTER OK")
    }

    /// A monitor with the smallest buffer whose wake-up closure takes 50 ms, and a burst of messages it cannot hold
    /// meanwhile: 300 addresses added to a new interface, then the interface deleted.
    static func overflow() async throws {
        let check = SocketReplacedScenario.check
        // The kernel's smallest buffer: a few messages.
        let monitor = NetworkChangeMonitor(logger: quiet, receiveBuffer: 1)
        let woken = Atomic(0)
        // A wake-up closure that takes its time holds the monitor's thread: the kernel queues meanwhile.
        monitor.add {
            woken.add(1, ordering: .relaxed)
            usleep(50_000)
        }
        let monitoring = Task { try await monitor.run() }
        defer { monitoring.cancel() }
        check(await TestSupport.eventually { monitor.receiveBufferBytes > 0 }, "the small monitor listens")
        let initial = monitor.receiveBufferBytes
        try NamespaceChild.ip(["link", "add", "d0", "type", "veth", "peer", "name", "d1"])
        try NamespaceChild.ip(["link", "set", "d0", "up"])
        let batch = FileManager.default.temporaryDirectory.appendingPathComponent("filter-batch-\(getpid())")
        defer { try? FileManager.default.removeItem(at: batch) }
        let lines = (0..<300).map { "addr add 10.77.\($0 / 250).\($0 % 250 + 1)/32 dev d0" }
        try lines.joined(separator: "\n").write(to: batch, atomically: true, encoding: .utf8)
        try NamespaceChild.ip(["-batch", batch.path])
        try NamespaceChild.ip(["link", "del", "d0"])
        _ = await TestSupport.eventually(within: .seconds(3)) { monitor.overflows > 0 }
        print(
            "FILTER overflow: \(monitor.overflows) overflows, \(woken.load(ordering: .relaxed)) wake-ups, receive "
                + "buffer \(initial) → \(monitor.receiveBufferBytes) bytes")
        check(monitor.overflows > 0, "the burst overflowed the small buffer")
        check(woken.load(ordering: .relaxed) > 0, "an overflow wakes every registration")
        check(monitor.receiveBufferBytes > initial, "the buffer was raised")
    }
}
