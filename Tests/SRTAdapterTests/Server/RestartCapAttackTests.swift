import Synchronization
import Testing

@testable import SRTAdapter
@testable import Supervisor

extension Loopback {
    /// `maxConnections` bounds the open connections of a listener: a restart that hands the port over must not reset
    /// the count, or each `restartListener()` lets another `maxConnections` callers in on the same UDP socket.
    @Suite("Attack: the connection cap across a restart")
    struct RestartCapAttackTests {
        @Test("maxConnections 1, one caller connected, restartListener(): a second caller is still rejected")
        func capSurvivesRestart() async throws {
            let server = SRTServer(configuration: try TestSupport.loopback(maxConnections: 1))
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            #expect(await TestSupport.eventually { server.supervisor.resource.takesRestartRequests })
            let address = try #require(server.localAddress)
            let accepted = Mutex<[SRTConnection]>([])
            let collecting = Task {
                for await connection in server.connections { accepted.withLock { $0.append(connection) } }
            }
            defer { collecting.cancel() }
            func caller(_ streamID: String) throws -> SRTCallerConfiguration {
                try SRTCallerConfiguration(
                    host: address.host, port: address.port, streamID: streamID, latency: .milliseconds(40),
                    connectTimeout: .seconds(3))
            }
            // The one connection the cap allows.
            let first = try await SRTConnection.connect(try caller("first"))
            defer { first.close() }
            #expect(await TestSupport.eventually(within: .seconds(5)) { accepted.withLock { $0.count == 1 } })
            // Before the restart the cap holds.
            let before = try? await SRTConnection.connect(try caller("before-restart"))
            before?.close()
            #expect(before == nil, "the cap holds before the restart")

            server.restartListener()
            let failure = try await SRTServerTests.waitFor(events) { event in
                if case .failed = event { true } else { false }
            }
            if case .failed(let details) = failure {
                #expect((details.error as? SRTError)?.code == .restartRequested)
            }
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            // The first connection still lives on the port: the cap is still reached.
            let after = try? await SRTConnection.connect(try caller("after-restart"))
            after?.close()
            #expect(after == nil, "the cap holds after restartListener()")
            for connection in accepted.withLock({ $0 }) { connection.close() }
        }

        @Test("maxConnections 1, one connection open, reopen(sharingWith:): a second caller is still rejected")
        func capSurvivesReopen() async throws {
            let first = try SRTListenSocket.open(TestSupport.loopback(maxConnections: 1))
            let (caller, accepted) = try await TestSupport.pair(first, streamID: "first")
            defer {
                caller.close()
                accepted.close()
            }
            first.close()
            // The close runs on the adapter's control thread; the listener below must come after it (5011 otherwise).
            await SRTControlThread.shared.idle()
            let second = try SRTListenSocket.reopen(sharingWith: first, reactor: .shared)
            defer { second.close() }
            // The first connection still lives on the port: the cap is reached, the caller is turned away at once.
            async let taken = try? second.accept()
            let error = await #expect(throws: SRTError.self) {
                try await SRTConnection.connect(try TestSupport.caller(to: second, streamID: "after-reopen")).close()
            }
            #expect(error?.rejectReason == SRTRejectReason.overload.code, "the cap holds after reopen(sharingWith:)")
            second.close()
            await (taken)?.close()
        }
    }
}
