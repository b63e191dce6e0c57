import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault B (no root): /dev/null is put over a listener's UDP descriptor, so its receive thread's next `recvmsg`
    /// fails with ENOTSOCK and the thread exits (`Docs/libsrt-failure-modes.md`, "How the tests inject faults").
    ///
    /// The scenario runs in a child process (an exit test): a process that has seen a receive thread die can never
    /// run libsrt's cleanup, so it must leave through `_exit`, which the test runner itself must not do.
    @Suite("Fault B: a listener's UDP socket replaced by /dev/null")
    struct SocketReplacedTests {
        @Test("the log signal fires, the probe says dead, retire and rebind bring it back; a bystander is untouched")
        func deadReceiveThread() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await SocketReplacedScenario.run()
            }
            TestSupport.expectChild(result, marker: "FAULT-B")
        }

        @Test("after a receive-thread death, SRTRuntime.exit leaves at once (plain exit would spin forever)")
        func exitAfterDeath() async throws {
            let started = ContinuousClock.now
            await #expect(processExitsWith: .exitCode(7)) {
                let listener = try SRTListenSocket.open(TestSupport.loopback())
                let (caller, accepted) = try await TestSupport.pair(listener)
                let deaths = SRTRuntime.receiveThreadDeaths()
                _ = csrt_retire_fd(listener.udpDescriptor)
                _ = try await TestSupport.within(.seconds(3)) {
                    for await death in deaths { return death }
                    throw Missing(what: "a death")
                }
                _ = (caller, accepted)
                // No retire, no close: the worst case for libsrt's cleanup.
                SRTRuntime.exit(7)
            }
            // The child's whole life: start-up, a handshake, the fault, the exit.
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }
}

/// The child's side; every failure prints its reason and exits non-zero.
enum SocketReplacedScenario {
    static func check(_ condition: Bool, _ what: @autoclosure () -> String) {
        guard condition else {
            print("FAIL: \(what())")
            TestSupport.exitChild(1)
        }
    }

    static func milliseconds(_ duration: Duration) -> String {
        String(
            format: "%.1f", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1e3)
    }

    static func run() async -> Never {
        await TestSupport.runChild(scenario)
    }

    static func scenario() async throws {
        SRTRuntime.start()
        let deaths = SRTRuntime.receiveThreadDeaths()
        let firstDeath = Task { () -> ReceiveThreadDeath? in
            for await death in deaths { return death }
            return nil
        }
        let configuration = try TestSupport.loopback()
        let listener = try SRTListenSocket.open(configuration)
        let bystander = try SRTListenSocket.open(configuration)
        let (victimCaller, victim) = try await TestSupport.pair(listener, streamID: "victim")
        let (bystanderCaller, bystanderConnection) = try await TestSupport.pair(bystander, streamID: "bystander")
        check(await listener.probe().isAlive, "probe before the fault")

        // The fault.
        let injected = ContinuousClock.now
        check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2")

        let death = try await TestSupport.within(.seconds(3)) { await firstDeath.value }
        let signalled = ContinuousClock.now
        check(death != nil, "the log signal")
        check(SRTRuntime.hasSeenReceiveThreadDeath, "hasSeenReceiveThreadDeath")

        // libsrt still says all is well (Docs/libsrt-failure-modes.md §2): only the probe tells.
        check(listener.state == .listening, "listener still LISTENING, got \(listener.state)")
        check(victim.state == .connected, "victim still CONNECTED, got \(victim.state)")
        let deadProbe = await listener.probe(timeout: .milliseconds(150))
        check(!deadProbe.isAlive, "probe after the fault: \(deadProbe)")
        check(deadProbe.error?.code == .noServer, "dead probe is 1001: \(deadProbe)")
        check(!listener.receiveQueueIsDrained, "the deaf socket does not read as drained")
        let detected = ContinuousClock.now

        // Recovery: close the listener and its deaf connections, retire the descriptor, bind the port again.
        let victims = await listener.retire()
        check(victims.map(\.socket) == [victim.socket], "the victim is reported")
        check(victim.isClosed, "the victim is closed")
        let rebindStarted = ContinuousClock.now
        let fresh = try SRTListenSocket.open(
            try SRTListenerConfiguration(
                host: "127.0.0.1", port: listener.localAddress.port, latency: configuration.latency))
        let rebound = ContinuousClock.now
        let aliveProbe = await fresh.probe()
        check(aliveProbe.isAlive, "probe after recovery: \(aliveProbe)")
        let verified = ContinuousClock.now

        // A new caller transfers data through the fresh listener.
        let (newCaller, newConnection) = try await TestSupport.pair(fresh, streamID: "after")
        try await newCaller.send(Array("after the fault".utf8))
        let received = try await TestSupport.within(.seconds(3)) { try await newConnection.receive() }
        check(received == Array("after the fault".utf8), "data after recovery")

        // The bystander listener's connection never noticed.
        try await bystanderCaller.send(Array("bystander".utf8))
        let bystanderReceived = try await TestSupport.within(.seconds(3)) { try await bystanderConnection.receive() }
        check(bystanderReceived == Array("bystander".utf8), "bystander data")
        check(await bystander.probe().isAlive, "bystander listener alive")

        print(
            "FAULT-B fault→signal \(milliseconds(signalled - injected)) ms, dead probe "
                + "\(milliseconds(deadProbe.latency)) ms, re-listen \(milliseconds(rebound - rebindStarted)) ms, "
                + "alive probe \(milliseconds(aliveProbe.latency)) ms, fault→detected "
                + "\(milliseconds(detected - injected)) ms, fault→verified alive \(milliseconds(verified - injected)) ms"
        )
        print("FAULT-B OK")
        victimCaller.close()
        newCaller.close()
        newConnection.close()
        bystanderCaller.close()
        bystanderConnection.close()
        fresh.close()
        bystander.close()
    }
}
