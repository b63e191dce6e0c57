import Logging
import Synchronization
import Testing

@testable import SRTAdapter
@testable import Supervisor

extension Loopback {
    /// `restartListener()` called as soon as the supervisor reports `ready` is honoured: the run that has not begun
    /// yet ends at once on the request, and a caller is accepted by the run after it. An operator's script (or a
    /// group restarting its members) that waits for `ready` and then restarts must not find its request dropped.
    @Suite("A restart requested at ready")
    struct RestartAtReadyTests {
        @Test("a request made when ready is logged ends the run that follows; the next run accepts a caller")
        func restartAtReady() async throws {
            let target = Mutex<SRTServer?>(nil)
            let requests = Atomic(0)
            let logger = Logger(label: "restart-at-ready") { _ in
                ReadyCallingLogHandler(onReady: {
                    // Only the first ready: the second is the restart's, which the test waits for.
                    guard requests.add(1, ordering: .relaxed).newValue == 1 else { return }
                    target.withLock { $0 }?.restartListener()
                })
            }
            let server = SRTServer(
                configuration: try TestSupport.loopback(), name: "restart-at-ready", policy: SRTServer.defaultPolicy,
                health: .standard, logger: logger, reactor: .shared)
            target.withLock { $0 = server }
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            // The first ready, the restart's failure, the second ready.
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            let failure = try await SRTServerTests.waitFor(events) { event in
                if case .failed = event { true } else { false }
            }
            guard case .failed(let failure) = failure else { return }
            #expect(
                (failure.error as? SRTError)?.code == .restartRequested, "the run ended on the request: \(failure)")
            // What the log line shows: a run ended on request, not a call that failed.
            #expect("\(failure.error)".hasPrefix("srt_listen ended: SRT 90003"), "\(failure.error)")
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)

            let address = try #require(server.localAddress)
            let caller = try await SRTConnection.connect(
                try SRTCallerConfiguration(
                    host: address.host, port: address.port, streamID: "after", latency: .milliseconds(40),
                    connectTimeout: .seconds(5)))
            defer { caller.close() }
            let accepted = try await TestSupport.within(.seconds(5)) { () async -> SRTConnection? in
                for await connection in server.connections { return connection }
                return nil
            }
            #expect(accepted?.streamID == "after")
            accepted?.close()
        }
    }
}
