import CSRT
import Foundation
import Supervisor
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault B end to end through ``SRTServer``, in a child process (see ``SocketReplacedTests`` for why).
    @Suite("Fault B through SRTServer")
    struct ServerSocketReplacedTests {
        @Test("the server retires the deaf listener, reports its connection, and accepts again on the same stream")
        func recovers() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await ServerSocketReplacedScenario.run()
            }
            TestSupport.expectChild(result, marker: "SERVER-B")
        }
    }
}

enum ServerSocketReplacedScenario {
    static func run() async -> Never {
        await TestSupport.runChild(scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        let milliseconds = SocketReplacedScenario.milliseconds
        let policy = try RestartPolicy(
            backoff: Backoff.exponential(initial: .milliseconds(5), multiplier: 2, maximum: .seconds(1)))
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "victim", policy: policy)
        let bystander = SRTServer(configuration: try TestSupport.loopback(), name: "bystander")
        let events = server.supervisor.events()
        let bystanderEvents = bystander.supervisor.events()
        let running = Task { try await server.run() }
        let bystanderRunning = Task { try await bystander.run() }
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        _ = try await Loopback.SRTServerTests.waitFor(bystanderEvents, Loopback.SRTServerTests.isReady)
        let address = try server.localAddress.orThrow("address")
        let bystanderAddress = try bystander.localAddress.orThrow("bystander address")

        var connections = server.connections.makeAsyncIterator()
        let victimCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "victim"))
        let victim = try await connections.next().orThrow("victim accepted")
        var bystanderConnections = bystander.connections.makeAsyncIterator()
        let otherCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: bystanderAddress.host, port: bystanderAddress.port, streamID: "other"))
        let other = try await bystanderConnections.next().orThrow("bystander accepted")

        let instance = try server.supervisor.resource.current.orThrow("current listener")
        let injected = ContinuousClock.now
        check(csrt_retire_fd(instance.udpDescriptor) == 0, "dup2")

        let failure = try await Loopback.SRTServerTests.waitFor(events) { event in
            if case .failed = event { true } else { false }
        }
        let failed = ContinuousClock.now
        if case .failed(let details) = failure {
            check((details.error as? SRTError)?.code == .receiveThreadDied, "death reported: \(details)")
            check(details.decision == .restartNow, "immediate restart decided: \(details.decision)")
        }
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        let ready = ContinuousClock.now
        let lostStream = server.lostConnections
        let report = try await TestSupport.within(.seconds(2)) {
            var lost = lostStream.makeAsyncIterator()
            return try await lost.next().orThrow("lost report")
        }
        check(report.map(\.socket) == [victim.socket], "the victim is reported lost")
        check(victim.isClosed, "the victim is closed")
        check(server.localAddress == address, "same port after the restart")

        let fresh = try server.supervisor.resource.current.orThrow("fresh listener")
        let probe = await fresh.probe()
        check(probe.isAlive, "fresh listener alive: \(probe)")
        let verified = ContinuousClock.now

        let newCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "after"))
        let newConnection = try await connections.next().orThrow("accepted after the restart")
        try await newCaller.send(Array("after".utf8))
        let received = try await TestSupport.within(.seconds(3)) { try await newConnection.receive() }
        check(received == Array("after".utf8), "data after the restart")

        try await otherCaller.send(Array("bystander".utf8))
        let otherReceived = try await TestSupport.within(.seconds(3)) { try await other.receive() }
        check(otherReceived == Array("bystander".utf8), "bystander data")
        check(bystander.supervisor.state.isReady, "bystander never restarted")

        // A second fault after a healthy restart: the connection accepted by the listener before the restart
        // shares the socket with the new listener, so it dies with it and is reported too.
        let beforeCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "before-restart"))
        let beforeRestart = try await connections.next().orThrow("accepted before the restart")
        server.restartListener()
        _ = try await Loopback.SRTServerTests.waitFor(events) { event in
            if case .failed = event { true } else { false }
        }
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        let afterCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "after-restart"))
        let afterRestart = try await connections.next().orThrow("accepted after the restart")
        let shared = try server.supervisor.resource.current.orThrow("listener after the restart")
        check(
            Set(shared.connectionsOnSocket.map(\.socket)) == [
                beforeRestart.socket, afterRestart.socket, newConnection.socket,
            ],
            "the socket carries both generations: \(shared.connectionsOnSocket)")
        check(csrt_retire_fd(shared.udpDescriptor) == 0, "second dup2")
        let secondReport = try await TestSupport.within(.seconds(2)) {
            var lost = lostStream.makeAsyncIterator()
            return try await lost.next().orThrow("second lost report")
        }
        check(
            Set(secondReport.map(\.socket)) == [beforeRestart.socket, afterRestart.socket, newConnection.socket],
            "both generations reported: \(secondReport)")
        check(beforeRestart.isClosed && afterRestart.isClosed, "both generations closed")
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        let third = try server.supervisor.resource.current.orThrow("third listener")
        check(await third.probe().isAlive, "alive again")
        beforeCaller.close()
        afterCaller.close()

        print(
            "SERVER-B fault→failed \(milliseconds(failed - injected)) ms, fault→ready \(milliseconds(ready - injected)) ms, "
                + "fault→verified alive \(milliseconds(verified - injected)) ms")
        let stopping = ContinuousClock.now
        running.cancel()
        bystanderRunning.cancel()
        try await running.value
        try await bystanderRunning.value
        print("SERVER-B stop took \(milliseconds(ContinuousClock.now - stopping)) ms")
        victimCaller.close()
        newCaller.close()
        otherCaller.close()
        print("SERVER-B OK")
    }
}

extension Optional {
    /// The value, or an error naming what was missing.
    func orThrow(_ what: String) throws -> Wrapped {
        guard let self else { throw Missing(what: what) }
        return self
    }
}

struct Missing: Error, CustomStringConvertible {
    let what: String
    var description: String { "missing: \(what)" }
}
