import CSRT
import Foundation
import Logging
import ServiceLifecycle
import Supervisor
import Testing

@testable import SRTAdapter

extension Loopback {
    /// `SRTCaller` against an `SRTServer` on loopback: connections on one stream across reconnects, breaks that
    /// reconnect, start failures that back off, and the rejections that are fatal.
    @Suite("SRTCaller against SRTServer")
    struct SRTCallerTests {
        /// A running server and its stream of accepted connections.
        private func startServer(
            _ configuration: SRTListenerConfiguration
        ) async throws -> (server: SRTServer, running: Task<Void, any Error>) {
            let server = SRTServer(configuration: configuration)
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            return (server, running)
        }

        @Test(
            "each connection reaches the application on one sequence; a break reconnects and data flows again",
            arguments: [false, true])
        func reconnectsAfterBreak(ipv6: Bool) async throws {
            let (server, serverRunning) = try await startServer(TestSupport.loopback(ipv6: ipv6))
            defer { serverRunning.cancel() }
            let address = try #require(server.localAddress)
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(address, streamID: "publish/a"),
                policy: try CallerTesting.policy())
            let log = CallerTesting.EventLog(caller.supervisor.events())
            let running = Task { try await caller.run() }
            defer { running.cancel() }

            var previous: (caller: SRTConnection, accepted: SRTConnection)?
            for round in 0..<3 {
                let connection = try await CallerTesting.next(caller.connections, "connection \(round)")
                let accepted = try await CallerTesting.next(server.connections, "accepted \(round)")
                defer { accepted.close() }
                #expect(connection.streamID == "publish/a")
                #expect(accepted.streamID == "publish/a")
                #expect(caller.connection === connection)
                #expect(connection.peerAddress == address)
                if let previous {
                    #expect(previous.caller !== connection)
                    #expect(previous.caller.isClosed, "stop() closed the broken connection")
                }
                let message = (0..<1316).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ round) }
                try await connection.send(message)
                #expect(try await CallerTesting.receive(message.count, on: accepted) == message)
                try await accepted.send(Array("pong \(round)".utf8))
                #expect(try await CallerTesting.receive(6, on: connection) == Array("pong \(round)".utf8))
                previous = (connection, accepted)
                // The listener side drops the caller: the caller sees the break and connects again.
                accepted.close()
            }

            let failures = log.failures
            #expect(failures.count >= 2)
            for failure in failures {
                #expect(failure.phase == .run)
                #expect(failure.decision == .restart)
                #expect((failure.error as? SRTError)?.code == .connectionLost, "\(failure)")
            }
            // The last round's break is still being handled: the caller is connected again, not necessarily yet.
            #expect(await TestSupport.eventually(within: .seconds(3)) { caller.supervisor.state.isReady })
        }

        @Test("closing the connection on purpose asks for a fresh one")
        func localCloseReconnects() async throws {
            let (server, serverRunning) = try await startServer(TestSupport.loopback())
            defer { serverRunning.cancel() }
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(try #require(server.localAddress)),
                policy: try CallerTesting.policy())
            let log = CallerTesting.EventLog(caller.supervisor.events())
            let running = Task { try await caller.run() }
            defer { running.cancel() }
            let first = try await CallerTesting.next(caller.connections, "first connection")
            first.close()
            let second = try await CallerTesting.next(caller.connections, "second connection")
            #expect(second !== first)
            #expect(!second.isClosed)
            let failure = try #require(log.failures.first)
            #expect((failure.error as? SRTError)?.code == .closedLocally)
            #expect(failure.decision == .restart)
        }

        @Test("no server yet: 1001 backs off and retries; the caller connects once the server is up")
        func waitsForServer() async throws {
            let port = CallerTesting.freePort()
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(
                    SRTAddress(validHost: "127.0.0.1", port: port), connectTimeout: .milliseconds(200)),
                policy: try CallerTesting.policy(initial: .milliseconds(20)))
            let log = CallerTesting.EventLog(caller.supervisor.events())
            let running = Task { try await caller.run() }
            defer { running.cancel() }
            #expect(await TestSupport.eventually(within: .seconds(5)) { log.failures.count >= 2 })
            for failure in log.failures {
                #expect(failure.phase == .start)
                #expect(failure.decision == .restart)
                let error = try #require(failure.error as? SRTError)
                #expect(error.code == .noServer)
                #expect(error.rejectReason == Int32(SRT_REJ_TIMEOUT.rawValue))
            }
            #expect(caller.connection == nil)

            let (server, serverRunning) = try await startServer(
                SRTListenerConfiguration(host: "127.0.0.1", port: port, latency: .milliseconds(40)))
            defer { serverRunning.cancel() }
            let connection = try await CallerTesting.next(caller.connections, within: .seconds(5), "connection")
            let accepted = try await CallerTesting.next(server.connections, "accepted")
            defer { accepted.close() }
            try await connection.send([7, 7, 7])
            #expect(try await CallerTesting.receive(3, on: accepted) == [7, 7, 7])
        }

        @Test(
            "a wrong or missing passphrase is fatal: run() throws SupervisorError .fatal with the SRTError inside",
            arguments: [
                ("wrong secret 456", Int32(SRT_REJ_BADSECRET.rawValue)),
                (nil, Int32(SRT_REJ_UNSECURE.rawValue)),
            ] as [(String?, Int32)])
        func wrongPassphrase(secret: String?, reason: Int32) async throws {
            let (server, serverRunning) = try await startServer(
                TestSupport.loopback(passphrase: SRTPassphrase("right secret 123")))
            defer { serverRunning.cancel() }
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(
                    try #require(server.localAddress), passphrase: try secret.map(SRTPassphrase.init)),
                policy: try CallerTesting.policy())
            try await Self.expectFatal(caller, code: .connectionRejected, rejectReason: reason)
        }

        @Test("a stream id the listener forbids is fatal: run() throws SupervisorError .fatal with 1403 inside")
        func forbiddenStreamID() async throws {
            let access = try SRTAccessControl(deadline: TestSupport.accessDeadline) {
                $0.streamID.hasPrefix("publish/") ? .accept : .reject(.forbidden)
            }
            let (server, serverRunning) = try await startServer(TestSupport.loopback(accessControl: access))
            defer { serverRunning.cancel() }
            let address = try #require(server.localAddress)
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(address, streamID: "play/secret"),
                policy: try CallerTesting.policy())
            try await Self.expectFatal(caller, code: .connectionRejected, rejectReason: 1403)

            // The same listener lets a permitted stream id in.
            let allowed = SRTCaller(
                configuration: try CallerTesting.configuration(address, streamID: "publish/ok"),
                policy: try CallerTesting.policy())
            let running = Task { try await allowed.run() }
            defer { running.cancel() }
            let connection = try await CallerTesting.next(allowed.connections, "permitted connection")
            #expect(connection.streamID == "publish/ok")
        }

        @Test("an overloaded listener (1402) is not fatal: the caller gets in once a place is free")
        func overloadIsTransient() async throws {
            let (server, serverRunning) = try await startServer(TestSupport.loopback(maxConnections: 1))
            defer { serverRunning.cancel() }
            let address = try #require(server.localAddress)
            let occupant = try await SRTConnection.connect(CallerTesting.configuration(address, streamID: "first"))
            defer { occupant.close() }
            let occupied = try await CallerTesting.next(server.connections, "the occupant")
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(address, streamID: "second"),
                policy: try CallerTesting.policy(initial: .milliseconds(20)))
            let log = CallerTesting.EventLog(caller.supervisor.events())
            let running = Task { try await caller.run() }
            defer { running.cancel() }
            #expect(await TestSupport.eventually(within: .seconds(5)) { !log.failures.isEmpty })
            let failure = try #require(log.failures.first)
            #expect((failure.error as? SRTError)?.rejectReason == 1402)
            #expect(failure.decision == .restart)
            occupied.close()
            occupant.close()
            let connection = try await CallerTesting.next(caller.connections, "a connection once free")
            #expect(connection.streamID == "second")
        }

        @Test("cancelling run() stops promptly, closes the connection and ends the sequence")
        func cancelStops() async throws {
            let (server, serverRunning) = try await startServer(TestSupport.loopback())
            defer { serverRunning.cancel() }
            let caller = SRTCaller(configuration: try CallerTesting.configuration(try #require(server.localAddress)))
            let running = Task { try await caller.run() }
            let connection = try await CallerTesting.next(caller.connections, "connection")
            let started = ContinuousClock.now
            running.cancel()
            try await running.value
            #expect(ContinuousClock.now - started < TestSupport.promptly)
            #expect(connection.isClosed)
            #expect(caller.connection == nil)
            var iterator = caller.connections.makeAsyncIterator()
            #expect(await iterator.next() == nil)
            let stoppedOnRequest = if case .stopped(.requested) = caller.supervisor.state { true } else { false }
            #expect(stoppedOnRequest, "state \(caller.supervisor.state)")
        }

        @Test("in a ServiceGroup, a graceful shutdown stops the caller, closes its connection and ends the sequence")
        func gracefulShutdown() async throws {
            let (server, serverRunning) = try await startServer(TestSupport.loopback())
            defer { serverRunning.cancel() }
            let caller = SRTCaller(configuration: try CallerTesting.configuration(try #require(server.localAddress)))
            let group = ServiceGroup(services: [caller], logger: Logger(label: "test.group"))
            let running = Task { try await group.run() }
            defer { running.cancel() }
            let connection = try await CallerTesting.next(caller.connections, "connection")
            let started = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await TestSupport.within(.seconds(3)) { try await running.value }
            #expect(ContinuousClock.now - started < TestSupport.promptly)
            #expect(connection.isClosed)
            var iterator = caller.connections.makeAsyncIterator()
            #expect(await iterator.next() == nil)
        }

        @Test("SRTConnector in a supervisor of one's own, as its documentation shows")
        func connectorInOwnSupervisor() async throws {
            let (server, serverRunning) = try await startServer(TestSupport.loopback())
            defer { serverRunning.cancel() }
            let (delivered, sink) = AsyncStream.makeStream(of: SRTConnection.self)
            let connector = SRTConnector(
                configuration: try CallerTesting.configuration(try #require(server.localAddress)),
                onConnection: { sink.yield($0) })
            let supervisor = ResourceSupervisor(
                connector, name: "srt-uplink",
                policy: try RestartPolicy(backoff: SRTCaller.defaultBackoff, classifier: SRTConnector.classifier))
            let running = Task { try await supervisor.run() }
            defer { running.cancel() }
            let connection = try await CallerTesting.next(delivered, "connection")
            #expect(connector.connection === connection)
            let accepted = try await CallerTesting.next(server.connections, "accepted")
            defer { accepted.close() }
            try await connection.send([1, 2, 3])
            #expect(try await CallerTesting.receive(3, on: accepted) == [1, 2, 3])
            running.cancel()
            try await running.value
            #expect(connection.isClosed)
            #expect(connector.connection == nil)
        }

        /// Runs `caller` and expects it to give up at its first start with `code` and `rejectReason`.
        static func expectFatal(_ caller: SRTCaller, code: SRTError.Code, rejectReason: Int32) async throws {
            let log = CallerTesting.EventLog(caller.supervisor.events())
            let started = ContinuousClock.now
            let error = await #expect(throws: SupervisorError.self) {
                try await TestSupport.within(.seconds(10)) { try await caller.run() }
            }
            let elapsed = ContinuousClock.now - started
            #expect(error?.code == .fatal)
            #expect(error?.phase == .start)
            // Not `error.failures`: the core counts only restartable failures in the streak (0 here).
            let starts = log.entries.filter { entry in if case .starting = entry.event { true } else { false } }
            #expect(starts.count == 1, "no retry")
            let inside = error?.lastFailure as? SRTError
            #expect(inside?.code == code, "\(String(describing: error))")
            #expect(inside?.rejectReason == rejectReason, "\(String(describing: error))")
            // A rejection is answered within a round trip (measured about 20 ms); the bound leaves room for a stalled
            // pool, and the single start above is what proves there was no retry.
            #expect(elapsed < .seconds(3), "gave up after \(elapsed)")
            var iterator = caller.connections.makeAsyncIterator()
            #expect(await iterator.next() == nil)
        }
    }
}
