import CSRT
import Foundation
import SRTTestSupport
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault B on a caller: /dev/null is put over the UDP socket of a streaming `SRTCaller`, so its own receive
    /// thread dies and the connection stays `CONNECTED` and deaf. The peer is an `SRTServer` in the same child
    /// process, whose arrivals a thread of the test's own records as they happen (outside the Swift pool).
    ///
    /// Exit tests: a process that has seen a receive thread die must leave through `_exit`.
    @Suite("Fault B on a caller: its own UDP socket replaced by /dev/null")
    struct DeafCallerTests {
        @Test("the deaf caller reconnects on a fresh UDP socket and its stream arrives again within 1.5 s")
        func deafCallerReconnects() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(within: .seconds(60)) { try await DeafCallerScenario.deafCaller() }
            }
            TestSupport.expectChild(result, marker: "CALLER-B")
        }

        @Test("healthy callers (idle, sending, receiving) survive deaths of other sockets: no reconnect")
        func healthyCallersSurvive() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(within: .seconds(60)) { try await DeafCallerScenario.healthyCallers() }
            }
            TestSupport.expectChild(result, marker: "CALLER-IDLE")
        }
    }

    /// Fault A on callers, the production error: their UDP sockets get `IP_RECVERR` and one raw ICMP "net
    /// unreachable" each, so their receive threads exit with ENETUNREACH while the descriptors stay sockets, bound to
    /// their ports, filling with datagrams nobody reads. Needs root; runs in a private network namespace (only `lo`),
    /// the test binary started there (``DeafCallerICMPChild``).
    @Suite("Fault A on callers: ICMP net unreachable in a private network namespace")
    struct DeafCallerICMPTests {
        @Test(
            "a streaming and an idle caller see their unread queues and reconnect; the stream within 1.5 s",
            .enabled(if: NamespaceChild.isAvailable))
        func deafCallersReconnect() async throws {
            let text = try await NamespaceChild.run(
                filter: "DeafCallerICMPChild", setup: [["ip", "link", "set", "lo", "up"]])
            for line in text.split(separator: "\n") where line.contains("CALLER-A") || line.contains("FAIL") {
                print(line)
            }
            #expect(text.contains("CALLER-A OK"), "\(text)")
        }
    }
}

/// The child's side of ``Loopback/DeafCallerICMPTests``; enabled only inside the namespace.
@Suite("DeafCallerICMPChild")
struct DeafCallerICMPChild {
    @Test(.enabled(if: NamespaceChild.isChild("DeafCallerICMPChild")))
    func scenario() async {
        do {
            try await DeafCallerScenario.unreadQueues()
        } catch {
            print("FAIL: \(error)")
        }
        NamespaceChild.end()
    }
}

/// The children's side of ``Loopback/DeafCallerTests`` and ``Loopback/DeafCallerICMPTests``; every failure prints its
/// reason and exits.
enum DeafCallerScenario {
    static func check(_ condition: Bool, _ what: @autoclosure () -> String) {
        guard condition else {
            print("FAIL: \(what())")
            TestSupport.exitChild(1)
        }
    }

    static func milliseconds(_ duration: Duration) -> String {
        String(format: "%.1f", CallerTesting.seconds(duration) * 1e3)
    }

    /// A 16-byte message: the number of the caller's connection that sent it, and its sequence number.
    static func message(generation: Int, sequence: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt64(generation).littleEndian, Array.init)
            + withUnsafeBytes(of: UInt64(sequence).littleEndian, Array.init)
    }

    /// Reads every connection of `server`'s current listener on a thread of its own, every millisecond, and
    /// records when each connection generation's messages first arrived: the instant libsrt hands them over, not
    /// when a task of the loaded pool would get to them. Stops when released or after `limit`.
    final class ArrivalRecorder: Sendable {
        struct Arrivals {
            /// Per generation: the first arrival and how many messages arrived.
            var first: [Int: ContinuousClock.Instant] = [:]
            var count: [Int: Int] = [:]
            /// Per stream id: when each accepted connection was first seen, in order.
            var accepted: [String: [ContinuousClock.Instant]] = [:]
            var known: Set<SRTSOCKET> = []
        }

        let arrivals = Mutex(Arrivals())
        private let stopped = Atomic<Bool>(false)

        init(_ server: SRTServer, limit: Duration = .seconds(40)) {
            let deadline = ContinuousClock.now + limit
            Thread.detachNewThread { [self] in
                var buffer = [CChar](repeating: 0, count: 1500)
                // Bounded by the stop flag and the deadline.
                while !stopped.load(ordering: .acquiring), ContinuousClock.now < deadline {
                    let connections = server.supervisor.resource.current?.openConnections ?? []
                    arrivals.withLock { arrivals in
                        for connection in connections where arrivals.known.insert(connection.socket).inserted {
                            arrivals.accepted[connection.streamID, default: []].append(.now)
                        }
                    }
                    for socket in connections.map(\.socket) {
                        // Non-blocking sockets (adopted by the listener): -1 once nothing is ready.
                        while srt_recvmsg2(socket, &buffer, Int32(buffer.count), nil) == 16 {
                            let at = ContinuousClock.now
                            let generation = buffer.withUnsafeBytes {
                                Int(UInt64(littleEndian: $0.load(as: UInt64.self)))
                            }
                            arrivals.withLock { arrivals in
                                if arrivals.first[generation] == nil { arrivals.first[generation] = at }
                                arrivals.count[generation, default: 0] += 1
                            }
                        }
                    }
                    usleep(1_000)
                }
            }
        }

        /// When the server's `number`th connection with `streamID` was first seen (from 1).
        func accepted(_ streamID: String, number: Int) -> ContinuousClock.Instant? {
            arrivals.withLock { $0.accepted[streamID].flatMap { $0.count >= number ? $0[number - 1] : nil } }
        }

        func count(_ generation: Int) -> Int { arrivals.withLock { $0.count[generation] ?? 0 } }
        func first(_ generation: Int) -> ContinuousClock.Instant? { arrivals.withLock { $0.first[generation] } }

        deinit { stopped.store(true, ordering: .releasing) }
    }

    /// Sends a numbered message every 5 ms on every connection `caller` hands out, each connection numbered from 1;
    /// a send that fails ends that connection's loop (the caller hands out the next one).
    static func stream(from caller: SRTCaller) -> Task<Void, Never> {
        Task {
            var generation = 0
            var senders: [Task<Void, Never>] = []
            for await connection in caller.connections {
                generation += 1
                let number = generation
                senders.append(
                    Task {
                        for sequence in 0..<100_000 {
                            do {
                                try await connection.send(message(generation: number, sequence: sequence))
                                try await Task.sleep(for: .milliseconds(5))
                            } catch {
                                return
                            }
                        }
                    })
            }
            for sender in senders { sender.cancel() }
        }
    }

    static func deafCaller() async throws {
        SRTRuntime.start()
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "peer")
        let serverLog = CallerTesting.EventLog(server.supervisor.events())
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try await TestSupport.within(.seconds(5)) {
            while server.localAddress == nil { try await Task.sleep(for: .milliseconds(5)) }
            return server.localAddress!.port
        }
        let recorder = ArrivalRecorder(server)

        let caller = SRTCaller(
            configuration: try CallerTesting.configuration(
                SRTAddress(validHost: "127.0.0.1", port: port), streamID: "publish/deaf"))
        let callerLog = CallerTesting.EventLog(caller.supervisor.events())
        let running = Task { try await caller.run() }
        defer { running.cancel() }
        let streaming = stream(from: caller)
        defer { streaming.cancel() }

        check(
            await TestSupport.eventually(within: .seconds(10)) { recorder.count(1) >= 20 },
            "the stream flows before the fault: \(recorder.count(1)) messages")
        let victim = try caller.connection.orThrow("the caller's connection")
        let descriptor = try victim.udpDescriptor.orThrow("the caller's own UDP descriptor")

        // The fault: the caller's UDP socket becomes /dev/null, its receive thread dies at its next read.
        check(csrt_retire_fd(descriptor) == 0, "dup2")
        let injected = ContinuousClock.now

        let flowing = await TestSupport.eventually(within: .seconds(5)) { recorder.first(2) != nil }
        check(
            flowing,
            "no message of a second connection arrived within 5 s; the caller's failures: \(callerLog.failures)")
        let flowsAgain = try recorder.first(2).orThrow("the first arrival of the second connection") - injected
        check(victim.isClosed, "the deaf connection was closed")
        let failures = callerLog.failures
        check(failures.count == 1, "one failure, got \(failures)")
        check(
            (failures.first?.error as? SRTError)?.code == .receiveThreadDied,
            "the failure is receiveThreadDied: \(failures)")
        check(failures.first?.decision == .restartNow, "restarted at once: \(failures)")
        let fresh = try caller.connection.orThrow("the new connection")
        check(fresh.udpDescriptor != nil && fresh !== victim, "a fresh connection on its own UDP socket")
        check(csrt_unread_bytes(fresh.udpDescriptor!) >= 0, "the new descriptor is a socket")
        // The peer's own receive thread lives: it probed itself after the death signal and stayed up.
        check(serverLog.failures.isEmpty, "the server did not fail: \(serverLog.failures)")
        let before = recorder.count(2)
        check(
            await TestSupport.eventually(within: .seconds(5)) { recorder.count(2) >= before + 20 },
            "the second connection keeps streaming")

        print(
            "CALLER-B fault→stream arrives again \(milliseconds(flowsAgain)) ms (goal < 1500 ms); "
                + "messages before the fault \(recorder.count(1)), after \(recorder.count(2))")
        check(flowsAgain < .milliseconds(1_500), "the stream arrived again after \(flowsAgain)")
        print("CALLER-B OK")
        streaming.cancel()
        running.cancel()
        serving.cancel()
    }

    static func unreadQueues() async throws {
        SRTRuntime.start()
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "peer")
        let serverLog = CallerTesting.EventLog(server.supervisor.events())
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try await TestSupport.within(.seconds(5)) {
            while server.localAddress == nil { try await Task.sleep(for: .milliseconds(5)) }
            return server.localAddress!.port
        }
        let recorder = ArrivalRecorder(server)
        let address = SRTAddress(validHost: "127.0.0.1", port: port)
        let streaming = SRTCaller(configuration: try CallerTesting.configuration(address, streamID: "stream"))
        let idle = SRTCaller(configuration: try CallerTesting.configuration(address, streamID: "idle"))
        let streamingLog = CallerTesting.EventLog(streaming.supervisor.events())
        let idleLog = CallerTesting.EventLog(idle.supervisor.events())
        let runs = [Task { try await streaming.run() }, Task { try await idle.run() }]
        defer { for run in runs { run.cancel() } }
        let sending = stream(from: streaming)
        defer { sending.cancel() }
        let idleVictim = try await CallerTesting.next(idle.connections, "the idle caller's connection")
        check(
            await TestSupport.eventually(within: .seconds(10)) { recorder.count(1) >= 20 },
            "the stream flows before the fault: \(recorder.count(1)) messages")
        let streamVictim = try streaming.connection.orThrow("the streaming caller's connection")

        // The fault: IP_RECVERR, then one ICMP net unreachable quoting a packet from each caller's port.
        for victim in [streamVictim, idleVictim] {
            var one: Int32 = 1
            let descriptor = try victim.udpDescriptor.orThrow("a caller's own UDP descriptor")
            check(setsockopt(descriptor, 0, 11, &one, 4) == 0, "IP_RECVERR")  // IPPROTO_IP, IP_RECVERR
        }
        // One ICMP each; a send may take the error first (a UDP send returns a pending socket error too) and leave the
        // receive thread alive: then another, at most 10, until that thread's death signal came.
        func kill(_ victim: SRTConnection) async throws -> ContinuousClock.Instant {
            let port = UInt16(csrt_local_port(victim.udpDescriptor!))
            for _ in 0..<10 {
                let deaths = SRTRuntime.receiveThreadDeathCount
                let sent = ContinuousClock.now
                try ICMPFault.sendNetUnreachable(port: port)
                if await TestSupport.eventually(
                    within: .milliseconds(500), { SRTRuntime.receiveThreadDeathCount > deaths })
                {
                    return sent
                }
            }
            throw Missing(what: "a death signal after 10 ICMPs to port \(port)")
        }
        let idleInjected = try await kill(idleVictim)
        let injected = try await kill(streamVictim)
        // Unlike fault B, the descriptors are still sockets: only the unread queue shows the death.
        check(csrt_unread_bytes(streamVictim.udpDescriptor!) >= 0 || streamVictim.isClosed, "still a socket")

        check(
            await TestSupport.eventually(within: .seconds(5)) { recorder.first(2) != nil },
            "no message of a second connection arrived within 5 s; failures: \(streamingLog.failures)")
        let flowsAgain = try recorder.first(2).orThrow("the second connection's first arrival") - injected
        check(
            await TestSupport.eventually(within: .seconds(5)) { recorder.accepted("idle", number: 2) != nil },
            "the idle caller did not reconnect within 5 s; failures: \(idleLog.failures)")
        let idleBack =
            try recorder.accepted("idle", number: 2).orThrow("the idle caller's second connection") - idleInjected
        for (name, log) in [("streaming", streamingLog), ("idle", idleLog)] {
            let failures = log.failures
            check(failures.count == 1, "the \(name) caller failed once: \(failures)")
            let error = failures.first?.error as? SRTError
            check(error?.code == .receiveThreadDied, "the \(name) caller's failure is receiveThreadDied: \(failures)")
            check(error?.message.contains("unread") == true, "shown by the unread queue: \(String(describing: error))")
        }
        check(streamVictim.isClosed && idleVictim.isClosed, "the deaf connections were closed")
        // Retired: /dev/null over the dead sockets frees their ports.
        check(csrt_unread_bytes(streamVictim.udpDescriptor!) == -1, "the deaf UDP socket was retired")
        check(serverLog.failures.isEmpty, "the server did not fail: \(serverLog.failures)")
        print(
            "CALLER-A fault→stream arrives again \(milliseconds(flowsAgain)) ms (goal < 1500 ms); idle caller "
                + "accepted again after \(milliseconds(idleBack)) ms")
        check(flowsAgain < .milliseconds(1_500), "the stream arrived again after \(flowsAgain)")
        // An idle caller shows its death with the peer's next keep-alive (1 s), then the unread limit.
        check(idleBack < .milliseconds(2_500), "the idle caller was back after \(idleBack)")
        print("CALLER-A OK")
    }

    static func healthyCallers() async throws {
        SRTRuntime.start()
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "peer")
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try await TestSupport.within(.seconds(5)) {
            while server.localAddress == nil { try await Task.sleep(for: .milliseconds(5)) }
            return server.localAddress!.port
        }
        let recorder = ArrivalRecorder(server)
        let address = SRTAddress(validHost: "127.0.0.1", port: port)

        // Three callers: one sends (the server only acknowledges), one receives (it only acknowledges), one is idle
        // (keep-alives only, once a second each way, which libsrt counts nowhere).
        let roles = ["send", "receive", "idle"]
        var made: [String: SRTCaller] = [:]
        var logs: [String: CallerTesting.EventLog] = [:]
        var runs: [Task<Void, any Error>] = []
        for role in roles {
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(address, streamID: role), name: "caller-\(role)")
            made[role] = caller
            logs[role] = CallerTesting.EventLog(caller.supervisor.events())
            runs.append(Task { try await caller.run() })
        }
        defer { for run in runs { run.cancel() } }
        let callers = made
        let sending = stream(from: callers["send"]!)
        defer { sending.cancel() }
        var connections: [String: SRTConnection] = [:]
        for role in roles {
            // The sending caller's stream of connections has its consumer already: read its current connection.
            connections[role] = try await TestSupport.within(.seconds(10)) {
                while true {
                    if let connection = callers[role]!.connection { return connection }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
        }
        // The server streams to the receiving caller, which reads it.
        let toReceiver = try await TestSupport.within(.seconds(5)) {
            while true {
                let accepted = server.supervisor.resource.current?.openConnections ?? []
                if let connection = accepted.first(where: { $0.streamID == "receive" }) { return connection }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let received = Atomic<Int>(0)
        let feeding = Task {
            for sequence in 0..<100_000 {
                guard (try? await toReceiver.send(message(generation: 0, sequence: sequence))) != nil else { return }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        defer { feeding.cancel() }
        let reading = Task { [receiver = connections["receive"]!] in
            while (try? await receiver.receive()) != nil { received.add(1, ordering: .relaxed) }
        }
        defer { reading.cancel() }
        check(
            await TestSupport.eventually(within: .seconds(10)) {
                recorder.count(1) >= 20 && received.load(ordering: .relaxed) >= 20
            }, "both streams flow")

        // Three deaths of other sockets: each time a listener of the process with a connection of its own goes deaf.
        let deaths = 3
        for death in 1...deaths {
            let passed = roles.map { callers[$0]!.supervisor.resource.watchesPassed }
            let listener = try SRTListenSocket.open(try TestSupport.loopback())
            let pair = try await TestSupport.pair(listener, streamID: "victim-\(death)")
            let signalled = SRTRuntime.receiveThreadDeathCount
            check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2 over the victim listener \(death)")
            check(
                await TestSupport.eventually(within: .seconds(3)) { SRTRuntime.receiveThreadDeathCount > signalled },
                "death signal \(death)")
            // Every caller watched itself after this death and found its receive thread alive.
            let watched = await TestSupport.eventually(within: .seconds(5)) {
                zip(roles, passed).allSatisfy { callers[$0]!.supervisor.resource.watchesPassed > $1 }
            }
            check(
                watched,
                "every caller watched itself after death \(death); failures: "
                    + roles.map { "\($0) \(logs[$0]!.failures)" }.joined(separator: ", "))
            await listener.retire()
            pair.caller.close()
        }
        for role in roles {
            let failures = logs[role]!.failures
            check(failures.isEmpty, "the \(role) caller never failed: \(failures)")
            check(callers[role]!.connection === connections[role], "the \(role) caller kept its connection")
            check(!connections[role]!.isClosed, "the \(role) caller's connection is open")
        }
        let sent = recorder.count(1)
        let got = received.load(ordering: .relaxed)
        check(
            await TestSupport.eventually(within: .seconds(5)) {
                recorder.count(1) >= sent + 20 && received.load(ordering: .relaxed) >= got + 20
            }, "both streams still flow after the deaths")
        print(
            "CALLER-IDLE \(deaths) deaths of other sockets, watches passed: "
                + roles.map { "\($0) \(callers[$0]!.supervisor.resource.watchesPassed)" }.joined(separator: ", ")
                + "; messages sent \(recorder.count(1)), received \(received.load(ordering: .relaxed)); no reconnect")
        print("CALLER-IDLE OK")
    }
}
