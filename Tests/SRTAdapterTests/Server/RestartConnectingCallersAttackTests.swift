import Synchronization
import Testing

@testable import SRTAdapter
@testable import Supervisor

extension Loopback {
    /// Callers connecting without pause while the listener restarts again and again: each restart ends a run and
    /// starts the next on the same listening socket, so every caller connects (none is rejected or left to time out)
    /// and every connected caller reaches the application, including those libsrt connected between two runs.
    @Suite("Attack: callers connecting through restarts")
    struct RestartConnectingCallersAttackTests {
        /// What the connecting tasks share with the test.
        final class ConnectingCallers: Sendable {
            let connected = Mutex<[String: SRTConnection]>([:])
            let failed = Mutex<[String: SRTError]>([:])
            let stop = Atomic(false)
        }

        @Test("three callers connecting without pause through 20 restarts: every connected caller is handed out")
        func everyConnectedCallerIsHandedOut() async throws {
            let server = SRTServer(configuration: try TestSupport.loopback())
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            #expect(await TestSupport.eventually { server.supervisor.resource.takesRestartRequests })
            let address = try #require(server.localAddress)
            let handedOut = Mutex<[String: SRTConnection]>([:])
            let collecting = Task {
                for await connection in server.connections {
                    handedOut.withLock { $0[connection.streamID] = connection }
                }
            }
            defer { collecting.cancel() }
            let callers = ConnectingCallers()
            // Bounded: 60 attempts each, and the flag.
            let connectors = (0..<3).map { task in
                Task {
                    for attempt in 0..<60 where !callers.stop.load(ordering: .relaxed) {
                        let streamID = "c-\(task)-\(attempt)"
                        let configuration = try SRTCallerConfiguration(
                            host: address.host, port: address.port, streamID: streamID, latency: .milliseconds(40),
                            connectTimeout: .seconds(2))
                        do {
                            let caller = try await SRTConnection.connect(configuration)
                            callers.connected.withLock { $0[streamID] = caller }
                        } catch let error as SRTError {
                            callers.failed.withLock { $0[streamID] = error }
                        }
                    }
                }
            }
            for _ in 0..<20 {
                let before = callers.connected.withLock { $0.count }
                server.restartListener()
                // The next run takes requests again (a request between two runs does nothing).
                _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
                #expect(await TestSupport.eventually { server.supervisor.resource.takesRestartRequests })
                // A few callers between restarts (bounded wait).
                _ = await TestSupport.eventually(within: .seconds(2)) {
                    callers.connected.withLock { $0.count } >= before + 2
                }
            }
            callers.stop.store(true, ordering: .relaxed)
            for connector in connectors { _ = await connector.result }
            let all = callers.connected.withLock { $0 }
            let everyone = await TestSupport.eventually(within: .seconds(5)) {
                let out = handedOut.withLock { $0 }
                return all.keys.allSatisfy { out[$0] != nil }
            }
            let missing = all.keys.filter { id in handedOut.withLock { $0[id] == nil } }.sorted()
            // What the callers that were never handed out say of their connection now.
            let states = missing.map { "\($0): \(all[$0]?.state.description ?? "?")" }
            #expect(everyone, "connected but never handed out: \(states) of \(all.count)")
            let failures = callers.failed.withLock { $0 }
            // A caller is never left to time out. While a restart waits for the CPU (a full parallel run), callers
            // past the listen backlog are rejected at once with reason 5, as for any listener whose accepts lag.
            #expect(
                failures.values.allSatisfy { $0.code == .connectionRejected },
                "callers that could not connect through the restarts: \(failures)")
            print("RESTARTS \(all.count) connected through 20 restarts, \(failures.count) failed")
            for connection in all.values { connection.close() }
            for connection in handedOut.withLock({ $0.values }) { connection.close() }
        }
    }
}
