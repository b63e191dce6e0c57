import Logging
import NIOAdapter
import NIOCore
import NIOPosix
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

@Suite("Where NIO channels bind: host names, port 0", .timeLimit(.minutes(1)))
struct NIOBindingTests {
    static let quiet = Logger(label: "nio", factory: { _ in SwiftLogNoOpLogHandler() })

    static func policy() throws -> RestartPolicy {
        try RestartPolicy(backoff: .constant(.milliseconds(20)))
    }

    @Test("a host name is resolved on a thread that may block, never on the task that starts the channel")
    func hostNameResolvedOffThePool() async throws {
        let before = ResolverProbe.calls.withLock { $0.count }
        let server = NIOServerResource(host: ResolverProbe.probeName, port: 0) {
            $0.eventLoop.makeSucceededVoidFuture()
        }
        let listening = try await server.start()
        await server.stop(listening)
        let receiver = NIODatagramResource(host: ResolverProbe.probeName, port: 0) {
            $0.eventLoop.makeSucceededVoidFuture()
        }
        let socket = try await receiver.start()
        await receiver.stop(socket)
        // Other tests may resolve the probe name meanwhile; none of them starts on a task that may block either.
        let calls = ResolverProbe.calls.withLock { Array($0[before...]) }
        #expect(calls.count >= 2)
        #expect(calls.allSatisfy { onTask in !onTask }, "getaddrinfo ran on a Swift task's thread: \(calls)")
    }

    @Test("TCP: port 0 is chosen once; a restart binds the same port, and connections of the old listener go on")
    func tcpPortZeroKeptAcrossRestart() async throws {
        let listening = Mutex<[any Channel]>([])
        let server = NIOServerResource(
            host: "127.0.0.1",
            port: 0,
            serverChannelInitializer: { channel in
                listening.withLock { $0.append(channel) }
                return channel.eventLoop.makeSucceededVoidFuture()
            },
            childChannelInitializer: { $0.pipeline.addHandler(EchoHandler()) }
        )
        let supervisor = ResourceSupervisor(server, name: "echo", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        #expect(await NIOResourceTests.ready(recorder))
        let first = try #require(listening.withLock { $0.first })
        let port = try #require(first.localAddress?.port)
        let client = try await TestClient.connect(port: port)
        defer { client.close() }
        try await client.send("a")
        #expect(await client.wait(within: .seconds(2)) { client.received == "a" })
        try await first.close()  // the socket "fails" under the server

        #expect(await NIOResourceTests.ready(recorder))
        let second = try #require(listening.withLock { $0.count == 2 ? $0[1] : nil })
        #expect(second.localAddress?.port == port)
        #expect(try await echo("again", port: port) == "again")
        // The connection the first listener accepted is still served.
        try await client.send("b")
        #expect(await client.wait(within: .seconds(2)) { client.received == "ab" })
        task.cancel()
        try await task.value
    }

    @Test("UDP: port 0 is chosen once; a rebind after an unexpected close takes the same port")
    func udpPortZeroKeptAcrossRestart() async throws {
        let sockets = Mutex<[any Channel]>([])
        let receiver = NIODatagramResource(host: "127.0.0.1", port: 0) { channel in
            sockets.withLock { $0.append(channel) }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        let supervisor = ResourceSupervisor(receiver, name: "udp", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        #expect(await NIOResourceTests.ready(recorder))
        let first = try #require(sockets.withLock { $0.first })
        let port = try #require(first.localAddress?.port)
        try await first.close()
        #expect(await NIOResourceTests.ready(recorder))
        let second = try #require(sockets.withLock { $0.count == 2 ? $0[1] : nil })
        #expect(second.localAddress?.port == port)
        task.cancel()
        try await task.value
    }
}
