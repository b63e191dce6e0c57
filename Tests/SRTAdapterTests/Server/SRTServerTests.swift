import CSRT
import Foundation
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    @Suite("SRTServer on loopback")
    struct SRTServerTests {
        /// Waits for the first event that `matches`, bounded in time.
        static func waitFor(
            _ events: AsyncStream<SupervisorEvent>, within limit: Duration = .seconds(5),
            _ matches: @escaping @Sendable (SupervisorEvent) -> Bool
        ) async throws -> SupervisorEvent {
            try await TestSupport.within(limit) {
                for await event in events where matches(event) { return event }
                throw TimedOut(limit: limit)
            }
        }

        static func isReady(_ event: SupervisorEvent) -> Bool {
            if case .ready = event { true } else { false }
        }

        @Test("accepted connections arrive on one stream; cancelling run() stops the server and ends the stream")
        func acceptsAndStops() async throws {
            let server = SRTServer(configuration: try TestSupport.loopback())
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            _ = try await Self.waitFor(events, Self.isReady)
            let address = try #require(server.localAddress)
            #expect(address.port > 0)

            var iterator = server.connections.makeAsyncIterator()
            for index in 0..<3 {
                let caller = try await SRTConnection.connect(
                    try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "cam\(index)"))
                defer { caller.close() }
                let accepted = try #require(await iterator.next())
                defer { accepted.close() }
                #expect(accepted.streamID == "cam\(index)")
                try await caller.send([UInt8(index)])
                #expect(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == [UInt8(index)])
            }

            let started = ContinuousClock.now
            running.cancel()
            try await running.value
            #expect(ContinuousClock.now - started < TestSupport.promptly)
            #expect(await iterator.next() == nil)
            if case .stopped = server.supervisor.state {} else { Issue.record("state \(server.supervisor.state)") }
        }

        @Test("a port held by another socket is a start failure with backoff; the server comes up once it is free")
        func portHeldThenFreed() async throws {
            var bindErrno: Int32 = 0
            let holder = SRTAddress(validHost: "127.0.0.1", port: 0).withSocketAddress {
                csrt_udp_bind($0, $1, &bindErrno)
            }
            let port = Int(csrt_local_port(holder))
            let policy = try RestartPolicy(backoff: .constant(.milliseconds(50)))
            let server = SRTServer(
                configuration: try SRTListenerConfiguration(host: "127.0.0.1", port: port), policy: policy)
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }

            let failure = try await Self.waitFor(events) { event in
                if case .failed = event { true } else { false }
            }
            guard case .failed(let details) = failure else { return }
            #expect(details.phase == .start)
            #expect(details.decision == .restart)
            #expect((details.error as? SRTError)?.systemErrno == EADDRINUSE)
            _ = try await Self.waitFor(events) { event in
                if case .backingOff = event { true } else { false }
            }
            close(holder)
            _ = try await Self.waitFor(events, Self.isReady)
            #expect(server.localAddress?.port == port)
        }

        @Test(
            "healthy restart primitive: a listener re-opened on its connections' live socket accepts; they keep flowing"
        )
        func reopenSharing() async throws {
            let first = try SRTListenSocket.open(TestSupport.loopback())
            let (caller, accepted) = try await TestSupport.pair(first, streamID: "old")
            defer {
                caller.close()
                accepted.close()
            }
            first.close()
            // The close runs on the adapter's control thread; the listener below must come after it (5011 otherwise).
            await SRTControlThread.shared.idle()
            // A fresh UDP bind cannot have the port: the old connection's multiplexer holds it.
            let error = #expect(throws: SRTError.self) {
                try SRTListenSocket.open(try SRTListenerConfiguration(host: "127.0.0.1", port: first.localAddress.port))
            }
            #expect(error?.systemErrno == EADDRINUSE)
            let second = try SRTListenSocket.reopen(sharingWith: first, reactor: .shared)
            defer { second.close() }
            #expect(await second.probe().isAlive)
            let (newCaller, newAccepted) = try await TestSupport.pair(second, streamID: "new")
            defer {
                newCaller.close()
                newAccepted.close()
            }
            try await caller.send(Array("old".utf8))
            try await newCaller.send(Array("new".utf8))
            #expect(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == Array("old".utf8))
            #expect(try await TestSupport.within(.seconds(3)) { try await newAccepted.receive() } == Array("new".utf8))
        }

        @Test(
            "a restart on purpose under live connections: they keep flowing while the next run accepts on the same listener"
        )
        func healthyRestart() async throws {
            let server = SRTServer(configuration: try TestSupport.loopback())
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            _ = try await Self.waitFor(events, Self.isReady)
            let address = try #require(server.localAddress)
            var connections = server.connections.makeAsyncIterator()
            let oldCaller = try await SRTConnection.connect(
                try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "old"))
            defer { oldCaller.close() }
            let old = try #require(await connections.next())
            defer { old.close() }
            let firstListener = try #require(server.supervisor.resource.current)

            server.restartListener()
            let failure = try await Self.waitFor(events) { event in
                if case .failed = event { true } else { false }
            }
            if case .failed(let details) = failure {
                #expect((details.error as? SRTError)?.code == .restartRequested)
                #expect(details.decision == .restartNow)
            }
            _ = try await Self.waitFor(events, Self.isReady)
            // The next run listens on the same libsrt listener: it never stopped listening.
            let secondListener = try #require(server.supervisor.resource.current)
            #expect(secondListener === firstListener)
            #expect(!old.isClosed)

            for round in 0..<5 {
                try await oldCaller.send([UInt8(round)])
                #expect(try await TestSupport.within(.seconds(3)) { try await old.receive() } == [UInt8(round)])
            }
            let newCaller = try await SRTConnection.connect(
                try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "new"))
            defer { newCaller.close() }
            let new = try #require(await connections.next())
            defer { new.close() }
            #expect(new.streamID == "new")
            try await newCaller.send([9])
            #expect(try await TestSupport.within(.seconds(3)) { try await new.receive() } == [9])
            #expect(await secondListener.probe().isAlive)
        }
    }
}
