import CSRT
import Foundation
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Faults C and D (`Docs/libsrt-failure-modes.md §7`): an address that vanishes and returns. In a private network
    /// namespace where only 127.0.0.1/32 is local, 127.0.0.2/32 is added to and removed from `lo`; every packet stays
    /// in 127.0.0.0/8 inside that namespace.
    @Suite("Faults C and D: the listener's address vanishes and returns")
    struct AddressLossTests {
        @Test(
            "binding before the address exists backs off and comes up; losing it later restarts nothing",
            .enabled(if: NamespaceChild.isAvailable))
        func addressFlap() async throws {
            let text = try await NamespaceChild.run(
                filter: "AddressLossChild",
                setup: [
                    ["ip", "link", "set", "lo", "up"],
                    // Only 127.0.0.1 itself stays local, so 127.0.0.2 is a real, absent address.
                    ["ip", "addr", "del", "127.0.0.1/8", "dev", "lo"],
                    ["ip", "addr", "add", "127.0.0.1/32", "dev", "lo"],
                ])
            for line in text.split(separator: "\n") where line.contains("ADDRESS") || line.contains("FAIL") {
                print(line)
            }
            #expect(text.contains("ADDRESS OK"), "\(text)")
        }
    }
}

/// The child's side of ``Loopback/AddressLossTests``; enabled only inside the namespace.
@Suite("AddressLossChild")
struct AddressLossChild {
    @Test(.enabled(if: NamespaceChild.isChild("AddressLossChild")))
    func scenario() async {
        do {
            try await AddressLossScenario.run()
        } catch {
            print("FAIL: \(error)")
        }
        NamespaceChild.end()
    }
}

/// The supervisor's events as they happen.
final class EventLog: Sendable {
    private let events = Mutex<[SupervisorEvent]>([])

    func append(_ event: SupervisorEvent) {
        events.withLock { $0.append(event) }
    }

    var failures: [SupervisorFailure] {
        events.withLock { $0 }.compactMap { event in
            if case .failed(let failure) = event { failure } else { nil }
        }
    }
}

enum AddressLossScenario {
    static func address(_ command: String) throws {
        try NamespaceChild.ip(["addr", command, "127.0.0.2/32", "dev", "lo"])
    }

    static func run() async throws {
        let check = SocketReplacedScenario.check
        let milliseconds = SocketReplacedScenario.milliseconds
        let port = 47_001
        let health = try SRTHealthCheck(
            probeInterval: .milliseconds(200), probeTimeout: .milliseconds(100), failedProbesBeforeDead: 2)
        let server = SRTServer(
            configuration: try SRTListenerConfiguration(host: "127.0.0.2", port: port, latency: .milliseconds(40)),
            name: "flap", policy: try RestartPolicy(backoff: .constant(.milliseconds(100))), health: health)
        let recorded = EventLog()
        let events = server.supervisor.events()
        let recorder = Task {
            for await event in events { recorded.append(event) }
        }
        let running = Task { try await server.run() }

        // Fault D: the address is not there at start.
        let failedAtStart = await TestSupport.eventually { !recorded.failures.isEmpty }
        check(failedAtStart, "a start failure while the address is absent")
        let first = recorded.failures[0]
        check(first.phase == .start, "it is a start failure")
        check((first.error as? SRTError)?.systemErrno == EADDRNOTAVAIL, "EADDRNOTAVAIL: \(first.error)")
        check(first.decision == .restart, "transient: \(first.decision)")
        try await Task.sleep(for: .milliseconds(300))
        check(!server.supervisor.state.isReady, "still backing off")
        let added = ContinuousClock.now
        try address("add")
        let up = await TestSupport.eventually(within: .seconds(3)) { server.supervisor.state.isReady }
        check(up, "ready once the address exists")
        print(
            "ADDRESS start failures while absent: \(recorded.failures.count); address added → ready \(milliseconds(ContinuousClock.now - added)) ms"
        )

        let original = try server.supervisor.resource.current.orThrow("listener")
        var connections = server.connections.makeAsyncIterator()
        let caller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: "127.0.0.2", port: port, streamID: "before"))
        let accepted = try await connections.next().orThrow("accepted before the loss")
        try await caller.send([1])
        check(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == [1], "data before")
        let failuresBefore = recorded.failures.count

        // Fault C: the address vanishes for 2 s (ten periodic probes), then returns.
        try address("del")
        check(!original.addressIsLocal, "the address is gone")
        let lostProbe = await original.probe(timeout: .milliseconds(100))
        check(!lostProbe.isAlive, "the probe cannot reach it meanwhile: \(lostProbe)")
        try await Task.sleep(for: .seconds(2))
        check(recorded.failures.count == failuresBefore, "no failure, no restart while the address is gone")
        check(server.supervisor.resource.current === original, "the original listener still runs")
        try address("add")
        let restored = ContinuousClock.now

        let newCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: "127.0.0.2", port: port, streamID: "after", connectTimeout: .seconds(3)))
        let newAccepted = try await connections.next().orThrow("accepted after the restore")
        let acceptedAfter = ContinuousClock.now - restored
        check(newAccepted.streamID == "after", "the caller after the restore")
        try await newCaller.send([2])
        check(try await TestSupport.within(.seconds(3)) { try await newAccepted.receive() } == [2], "data after")
        check(server.supervisor.resource.current === original, "accepted by the original listener")
        check(recorded.failures.count == failuresBefore, "still no restart")
        check(await original.probe().isAlive, "the original listener answers its probe again")
        print("ADDRESS restored → new caller accepted by the original listener in \(milliseconds(acceptedAfter)) ms")

        running.cancel()
        try await running.value
        recorder.cancel()
        caller.close()
        newCaller.close()
        print("ADDRESS OK")
    }
}
