import Foundation
import Logging
import NetworkMonitor
import Synchronization
import Testing

extension Loopback {
    /// A link message larger than the monitor's read buffer (an interface with many alternative names, or a network
    /// card with many SR-IOV virtual functions, has one of tens of kilobytes) still wakes: against the real kernel
    /// in a private network namespace, an interface with 200 names of 100 characters each (a link message of about
    /// 22 KiB) comes up.
    @Suite("Network-change monitor: large messages")
    struct NetworkMonitorLargeMessageTests {
        @Test(
            "a link message larger than the read buffer wakes the registered supervisors",
            .enabled(if: NamespaceChild.isAvailable))
        func largeLinkMessageWakes() async throws {
            let text = try await NamespaceChild.run(
                filter: "NetworkMonitorLargeMessageChild",
                setup: [
                    ["ip", "link", "set", "lo", "up"],
                    // A veth pair without IPv6 link-local addresses, whose small address and route messages would
                    // wake on their own.
                    ["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                    ["ip", "link", "set", "v0", "addrgenmode", "none"],
                    ["ip", "link", "set", "v1", "addrgenmode", "none"],
                ],
                limit: .seconds(60))
            for line in text.split(separator: "\n") where line.contains("LARGE") || line.contains("FAIL") {
                print(line)
            }
            #expect(text.contains("LARGE OK"), "\(text)")
        }
    }
}

/// The child's side of ``Loopback/NetworkMonitorLargeMessageTests``; enabled only inside the namespace.
@Suite("NetworkMonitorLargeMessageChild")
struct NetworkMonitorLargeMessageChild {
    @Test(.enabled(if: NamespaceChild.isChild("NetworkMonitorLargeMessageChild")))
    func scenario() async {
        do {
            try await NetworkMonitorLargeMessageScenario.run()
        } catch {
            print("FAIL: \(error)")
        }
        NamespaceChild.end()
    }
}

enum NetworkMonitorLargeMessageScenario {
    static func run() async throws {
        let check = SocketReplacedScenario.check
        // 200 names of 100 characters on each end: every link message of the pair is about 22 KiB.
        let batch = FileManager.default.temporaryDirectory.appendingPathComponent("large-batch-\(getpid())")
        defer { try? FileManager.default.removeItem(at: batch) }
        let lines = ["v0", "v1"].flatMap { link in
            (0..<200).map { "link property add dev \(link) altname \(link)\(String(repeating: "x", count: 94))\($0)" }
        }
        try lines.joined(separator: "\n").write(to: batch, atomically: true, encoding: .utf8)
        try NamespaceChild.ip(["-batch", batch.path])
        // Up without a carrier (its peer is down): not running, nothing to wake for.
        try NamespaceChild.ip(["link", "set", "v1", "up"])

        let monitor = NetworkChangeMonitor(logger: NetworkMonitorFilterScenario.quiet)
        let woken = Atomic(0)
        monitor.add { woken.add(1, ordering: .relaxed) }
        let monitoring = Task { try await monitor.run() }
        defer { monitoring.cancel() }
        check(await TestSupport.eventually { monitor.receiveBufferBytes > 0 }, "the monitor listens")
        // Whatever setup left in flight has passed.
        try await Task.sleep(for: .milliseconds(300))
        let before = woken.load(ordering: .relaxed)

        // Both ends up and running now: their link messages are the only ones.
        let raised = ContinuousClock.now
        try NamespaceChild.ip(["link", "set", "v0", "up"])
        let wakes = await TestSupport.eventually(within: .seconds(3)) { woken.load(ordering: .relaxed) > before }
        print(
            "LARGE link up with 22 KiB messages: \(woken.load(ordering: .relaxed) - before) wake-ups, the first "
                + "noticed \(SocketReplacedScenario.milliseconds(raised.duration(to: .now))) ms after the change")
        check(wakes, "a link message larger than the read buffer wakes")
        print("LARGE OK")
    }
}
