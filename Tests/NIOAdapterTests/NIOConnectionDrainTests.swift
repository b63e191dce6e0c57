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
        handler: @escaping @Sendable () -> any ChannelHandler
    ) -> NIOServerResource {
        NIOServerResource(
            host: "127.0.0.1",
            port: 0,
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
        let server = Self.server(listening: listening) { ReplyOnQuiesceHandler(requests: requests) }
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
        #expect(await client.wait(within: .seconds(2)) { requests.items.withLock { $0 == ["work"] } })

        await group.triggerGracefulShutdown()
        #expect(await client.wait(within: .seconds(3)) { client.closedAt != nil })
        #expect(client.received == "done:work")
        try await task.value
    }

    @Test("cancelling the supervisor closes a connection that ignores the quiesce event when the grace period ends")
    func cancellationClosesAfterTheGracePeriod() async throws {
        let listening = ChannelLog()
        let server = Self.server(listening: listening) { EchoHandler() }
        let supervisor = ResourceSupervisor(server, name: "echo", logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        #expect(await NIOResourceTests.ready(recorder))
        let port = try #require(listening.channels.withLock { $0.first?.localAddress?.port })
        let client = try await TestClient.connect(port: port)
        defer { client.close() }
        try await client.send("x")
        #expect(await client.wait(within: .seconds(2)) { client.received == "x" })

        task.cancel()
        #expect(await client.wait(within: .seconds(8)) { client.closedAt != nil })
        try await task.value
    }
}
