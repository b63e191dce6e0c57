import CSRT
import Foundation
import Supervisor
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Attacks on the caller's receive-path watch (``SRTCallerHealthCheck``): a healthy caller must never be taken
    /// for deaf, nor pay for its watch more than once per burst of deaths.
    ///
    /// Exit tests: a caller judged deaf has /dev/null put over its UDP socket, which kills a receive thread that
    /// lived; such a process must leave through `_exit`.
    @Suite("Attacks on a caller's receive-path watch")
    struct DeafCallerAttackTests {
        @Test("a burst of receive-thread deaths costs a healthy idle caller one watch, not one per death")
        func deathBurstIsOneWatch() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(within: .seconds(60)) { try await DeafCallerAttackScenario.deathBurst() }
            }
            TestSupport.expectChild(result, marker: "CALLER-BURST")
        }
    }
}

/// The children's side of ``Loopback/DeafCallerAttackTests``; every failure prints its reason and exits.
enum DeafCallerAttackScenario {
    /// Three listeners of the process go deaf at once (fault B on each, back to back), as when one kernel event
    /// kills several receive threads: a healthy idle caller has nothing to tell (only keep-alives flow), so each of its
    /// watches lasts the whole ``SRTCallerHealthCheck/deathWatch`` (150 looks with `srt_bstats`). One watch covers
    /// every death that came before it started; watching once per buffered death (up to 16) multiplies the cost.
    static func deathBurst() async throws {
        SRTRuntime.start()
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "peer")
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try await TestSupport.within(.seconds(5)) {
            while server.localAddress == nil { try await Task.sleep(for: .milliseconds(5)) }
            return server.localAddress!.port
        }
        let caller = SRTCaller(
            configuration: try CallerTesting.configuration(
                SRTAddress(validHost: "127.0.0.1", port: port), streamID: "idle"))
        let callerLog = CallerTesting.EventLog(caller.supervisor.events())
        let running = Task { try await caller.run() }
        defer { running.cancel() }
        let connection = try await CallerTesting.next(caller.connections, "the caller's connection")

        // The victims: listeners of the same process, each with a connection of its own.
        let deaths = 3
        var victims: [(listener: SRTListenSocket, caller: SRTConnection)] = []
        for number in 1...deaths {
            let listener = try SRTListenSocket.open(try TestSupport.loopback())
            let pair = try await TestSupport.pair(listener, streamID: "victim-\(number)")
            victims.append((listener, pair.caller))
        }
        let passedBefore = caller.supervisor.resource.watchesPassed
        let signalled = SRTRuntime.receiveThreadDeathCount
        for victim in victims {
            DeafCallerScenario.check(csrt_retire_fd(victim.listener.udpDescriptor) == 0, "dup2 over a victim")
        }
        let burst = ContinuousClock.now
        DeafCallerScenario.check(
            await TestSupport.eventually(within: .seconds(3)) {
                SRTRuntime.receiveThreadDeathCount >= signalled + deaths
            }, "\(deaths) death signals")
        // Every watch of the burst has ended by 2.5 deathWatch after the burst if the caller watches once per death
        // (and long before if it watches once); then no watch runs any more.
        let health = caller.supervisor.resource.health
        let settled = await TestSupport.eventually(within: health.deathWatch * (Double(deaths) + 1.5)) {
            caller.supervisor.resource.watchesPassed >= passedBefore + deaths
        }
        let watches = caller.supervisor.resource.watchesPassed - passedBefore
        let took = ContinuousClock.now - burst
        print(
            "CALLER-BURST \(deaths) deaths at once: the idle caller watched itself \(watches) times"
                + (settled ? ", the last ending \(DeafCallerScenario.milliseconds(took)) ms after the burst" : "")
                + " (deathWatch \(health.deathWatch), up to \(Int(health.deathWatch / health.lookInterval)) looks "
                + "with srt_bstats each)")
        for victim in victims {
            _ = victim.listener.retire()
            victim.caller.close()
        }
        DeafCallerScenario.check(callerLog.failures.isEmpty, "the caller never failed: \(callerLog.failures)")
        DeafCallerScenario.check(caller.connection === connection, "the caller kept its connection")
        DeafCallerScenario.check(
            watches <= 2,
            "one burst of \(deaths) deaths cost the idle caller \(watches) sequential watches of up to "
                + "\(health.deathWatch) each, one per death")
        print("CALLER-BURST OK")
        running.cancel()
        serving.cancel()
    }
}
