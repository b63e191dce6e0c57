import Logging
import NIOAdapter
import NIOCore
import NIOPosix
import ServiceLifecycle
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

@Suite("Accepted TCP connections at shutdown", .timeLimit(.minutes(1)))
struct NIOConnectionDrainTests {
    static let quiet = Logger(label: "nio", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A server on 127.0.0.1 with any port, whose connections get `handler`; its listening channels go to `listening`.
    static func server(
        listening: ChannelLog,
        drain: NIOConnectionDrain = .standard,
        handler: @escaping @Sendable () -> any ChannelHandler
    ) throws -> NIOServerResource {
        try NIOServerResource(
            host: "127.0.0.1",
            port: 0,
            drain: drain,
            serverChannelInitializer: { channel in
                listening.channels.withLock { $0.append(channel) }
                return channel.eventLoop.makeSucceededVoidFuture()
            },
            childChannelInitializer: { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler()) }
            }
        )
    }

    @Test("a graceful shutdown quiesces each connection: its handler finishes the reply, then the client sees EOF")
    func gracefulShutdownLetsTheReplyFinish() async throws {
        let requests = RequestLog()
        let listening = ChannelLog()
        let server = try Self.server(listening: listening) { ReplyOnQuiesceHandler(requests: requests) }
        let supervisor = ResourceSupervisor(server, name: "reply", logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let group = ServiceGroup(services: [supervisor], logger: Self.quiet)
        let task = Task { try await group.run() }
        defer { task.cancel() }

        #expect(await NIOResourceTests.ready(recorder))
        let port = try #require(listening.channels.withLock { $0.first?.localAddress?.port })
        let client = try await TestClient.connect(port: port)
        defer { client.close() }
        try await client.send("work")
        #expect(await client.wait(within: loopbackWait) { requests.items.withLock { $0 == ["work"] } })

        let shutdownAt = ContinuousClock.now
        await group.triggerGracefulShutdown()
        let closed = await client.wait(within: loopbackWait) { client.closedAt != nil }
        // Where the time went if it failed: the quiesce event and the close, from the shutdown's trigger.
        let quiesced = requests.quiescedAt.withLock { $0 }.map { $0 - shutdownAt }
        #expect(
            closed,
            "quiesced after \(String(describing: quiesced)), closed after \(String(describing: client.closedAt.map { $0 - shutdownAt }))"
        )
        #expect(client.received == "done:work")
        try await task.value
    }

    @Test("cancelling the supervisor closes a connection that ignores the quiesce event when the grace period ends")
    func cancellationClosesAfterTheGracePeriod() async throws {
        let listening = ChannelLog()
        let grace = Duration.milliseconds(300)
        let server = try Self.server(listening: listening, drain: try NIOConnectionDrain(gracePeriod: grace)) {
            EchoHandler()
        }
        let supervisor = ResourceSupervisor(server, name: "echo", logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        #expect(await NIOResourceTests.ready(recorder))
        let port = try #require(listening.channels.withLock { $0.first?.localAddress?.port })
        let client = try await TestClient.connect(port: port)
        defer { client.close() }
        try await client.send("x")
        #expect(await client.wait(within: loopbackWait) { client.received == "x" })

        let cancelledAt = ContinuousClock.now
        task.cancel()
        #expect(await client.wait(within: loopbackWait) { client.closedAt != nil })
        let closedAt = try #require(client.closedAt)
        // Not before the grace period: the connection had it to finish (the upper bound is the wait above).
        #expect(closedAt - cancelledAt >= grace, "closed \(closedAt - cancelledAt) after the cancellation")
        try await task.value
        #expect(server.openConnections == 0)
    }

    @Test("a restart keeps the listener's connections; closeConnections() drains them after supervision ended")
    func restartKeepsConnectionsUntilCloseConnections() async throws {
        let listening = ChannelLog()
        let requests = RequestLog()
        let server = try Self.server(listening: listening) { ReplyOnQuiesceHandler(requests: requests) }
        let channel = try await server.start()
        let port = try #require(channel.localAddress?.port)
        let client = try await TestClient.connect(port: port)
        defer { client.close() }
        try await client.send("late")
        #expect(await client.wait(within: loopbackWait) { requests.items.withLock { $0 == ["late"] } })

        // The listener closes by itself: its run fails, and its stop is a restart's.
        try await channel.close()
        await #expect(throws: NIOAdapterError.self) { try await server.run(channel) }
        await server.stop(channel)
        #expect(client.closedAt == nil && server.openConnections == 1)

        await server.closeConnections()
        #expect(await client.wait(within: loopbackWait) { client.closedAt != nil })
        #expect(client.received == "done:late" && server.openConnections == 0)
    }

    @Test("an immediate drain closes connections at once, without the quiesce event")
    func immediateDrain() async throws {
        let listening = ChannelLog()
        let requests = RequestLog()
        let server = try Self.server(listening: listening, drain: .immediate) {
            ReplyOnQuiesceHandler(requests: requests)
        }
        let channel = try await server.start()
        let client = try await TestClient.connect(port: try #require(channel.localAddress?.port))
        defer { client.close() }
        try await client.send("cut")
        #expect(await client.wait(within: loopbackWait) { requests.items.withLock { $0 == ["cut"] } })
        await server.stop(channel)
        #expect(await client.wait(within: loopbackWait) { client.closedAt != nil })
        #expect(client.received.isEmpty)
    }

    @Test("grace periods outside 0 s to 1 h are configuration errors")
    func gracePeriodRange() throws {
        #expect(throws: ConfigurationError.self) { try NIOConnectionDrain(gracePeriod: .milliseconds(-1)) }
        #expect(throws: ConfigurationError.self) { try NIOConnectionDrain(gracePeriod: .seconds(3_601)) }
        #expect(try NIOConnectionDrain(gracePeriod: .zero) == .immediate)
        #expect(NIOConnectionDrain.standard.gracePeriod == .seconds(5))
    }
}
