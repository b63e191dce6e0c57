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

        @Test("a caller whose UDP descriptor now names another socket (a TCP one) reconnects")
        func descriptorReusedBySocket() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(within: .seconds(60)) { try await DeafCallerAttackScenario.reusedBySocket() }
            }
            TestSupport.expectChild(result, marker: "CALLER-REUSED")
        }

        @Test("retiring a deaf caller's descriptor leaves the file that took its number alone")
        func retireSparesTheNumbersNewOwner() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(within: .seconds(60)) { try await DeafCallerAttackScenario.reusedByFile() }
            }
            TestSupport.expectChild(result, marker: "CALLER-RETIRE")
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
            _ = await victim.listener.retire()
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

    /// Fault B as a double close leaves it in a process that opens sockets: the caller's UDP descriptor number now
    /// names another socket (here an unconnected TCP one, put there with dup2). libsrt's receive thread fails on it
    /// (ENOTCONN) and dies, with its death signal; the connection stays `CONNECTED` and deaf. The descriptor is still a
    /// socket, with an empty queue (the peer's datagrams go to a port nobody has any more), so neither rule of the
    /// watch fires and the watch ends "alive".
    static func reusedBySocket() async throws {
        // As srt-relay does: libsrt's send thread writes to the TCP socket, which raises SIGPIPE (EPIPE).
        signal(SIGPIPE, SIG_IGN)
        SRTRuntime.start()
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "peer")
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try await TestSupport.within(.seconds(5)) {
            while server.localAddress == nil { try await Task.sleep(for: .milliseconds(5)) }
            return server.localAddress!.port
        }
        let recorder = DeafCallerScenario.ArrivalRecorder(server)
        let caller = SRTCaller(
            configuration: try CallerTesting.configuration(
                SRTAddress(validHost: "127.0.0.1", port: port), streamID: "publish/reused"))
        let callerLog = CallerTesting.EventLog(caller.supervisor.events())
        let running = Task { try await caller.run() }
        defer { running.cancel() }
        let streaming = DeafCallerScenario.stream(from: caller)
        defer { streaming.cancel() }
        DeafCallerScenario.check(
            await TestSupport.eventually(within: .seconds(10)) { recorder.count(1) >= 20 },
            "the stream flows before the fault: \(recorder.count(1)) messages")
        let victim = try caller.connection.orThrow("the caller's connection")
        let descriptor = try victim.udpDescriptor.orThrow("the caller's own UDP descriptor")

        // The fault: another socket takes the descriptor's number.
        let stranger = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        DeafCallerScenario.check(stranger >= 0 && dup2(stranger, descriptor) == descriptor, "dup2 of a TCP socket")
        close(stranger)
        let signalled = SRTRuntime.receiveThreadDeathCount
        let injected = ContinuousClock.now
        let died = await TestSupport.eventually(within: .seconds(3)) {
            SRTRuntime.receiveThreadDeathCount > signalled
        }
        // Five seconds: more than three times the 1.5 s goal, and libsrt's own peer-idle timer died with the thread.
        let flowing = await TestSupport.eventually(within: .seconds(5)) { recorder.first(2) != nil }
        print(
            "CALLER-REUSED death signalled: \(died); watches passed \(caller.supervisor.resource.watchesPassed); "
                + "second connection's stream: "
                + (recorder.first(2).map { "after \(DeafCallerScenario.milliseconds($0 - injected)) ms" } ?? "none")
                + "; the old connection closed: \(victim.isClosed); failures \(callerLog.failures.map { "\($0.error)" })"
        )
        DeafCallerScenario.check(
            flowing,
            "the caller kept its deaf connection: no message of a second connection within 5 s of the fault")
        print("CALLER-REUSED OK")
        running.cancel()
        serving.cancel()
    }

    /// Fault B as a double close leaves it when the number is taken by a file: the caller's UDP descriptor number now
    /// names a file the application writes (put there with dup2). The receive thread dies on it (ENOTSOCK), the watch
    /// finds "not a socket" and the caller reconnects, as it should; but stopping the deaf connection puts /dev/null
    /// over that number, and the application's file silently becomes /dev/null.
    static func reusedByFile() async throws {
        SRTRuntime.start()
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "peer")
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try await TestSupport.within(.seconds(5)) {
            while server.localAddress == nil { try await Task.sleep(for: .milliseconds(5)) }
            return server.localAddress!.port
        }
        let recorder = DeafCallerScenario.ArrivalRecorder(server)
        let caller = SRTCaller(
            configuration: try CallerTesting.configuration(
                SRTAddress(validHost: "127.0.0.1", port: port), streamID: "publish/file"))
        let callerLog = CallerTesting.EventLog(caller.supervisor.events())
        let running = Task { try await caller.run() }
        defer { running.cancel() }
        let streaming = DeafCallerScenario.stream(from: caller)
        defer { streaming.cancel() }
        DeafCallerScenario.check(
            await TestSupport.eventually(within: .seconds(10)) { recorder.count(1) >= 20 },
            "the stream flows before the fault: \(recorder.count(1)) messages")
        let victim = try caller.connection.orThrow("the caller's connection")
        let descriptor = try victim.udpDescriptor.orThrow("the caller's own UDP descriptor")

        // The fault: the application's file takes the descriptor's number.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("caller-retire-\(getpid()).txt").path
        defer { unlink(path) }
        let file = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o600)
        DeafCallerScenario.check(file >= 0 && dup2(file, descriptor) == descriptor, "dup2 of a file")
        close(file)
        DeafCallerScenario.check(
            await TestSupport.eventually(within: .seconds(5)) { recorder.first(2) != nil },
            "no message of a second connection within 5 s; failures \(callerLog.failures)")
        DeafCallerScenario.check(
            await TestSupport.eventually(within: .seconds(2)) { victim.isClosed }, "the deaf connection was closed")

        // The application writes its file through its descriptor, as it did before the caller's reconnect.
        let line = Array("the application's line\n".utf8)
        let written = write(descriptor, line, line.count)
        let contents = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        print(
            "CALLER-RETIRE the caller reconnected; the application wrote \(written) bytes through its descriptor, "
                + "its file holds \(contents.utf8.count) bytes")
        DeafCallerScenario.check(
            contents.utf8.count == line.count,
            "the application's file lost its line: /dev/null was put over a number that was no longer the caller's")
        print("CALLER-RETIRE OK")
        running.cancel()
        serving.cancel()
    }
}
