import Logging
import NIOAdapter
import NIOCore
import NIOPosix
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Supervised NIO channels over loopback", .timeLimit(.minutes(1)))
struct NIOResourceTests {
    static let quiet = Logger(label: "nio", factory: { _ in SwiftLogNoOpLogHandler() })

    static func policy() throws -> RestartPolicy {
        try RestartPolicy(backoff: .constant(.milliseconds(20)))
    }

    /// The first failure event, with its NIO error.
    static func firstFailure(_ recorder: EventRecorder) async -> (SupervisorFailure, NIOAdapterError)? {
        guard case .failed(let failure)? = await recorder.next(where: { if case .failed = $0 { true } else { false } }),
            let error = failure.error as? NIOAdapterError
        else { return nil }
        return (failure, error)
    }

    static func ready(_ recorder: EventRecorder) async -> Bool {
        await recorder.next { if case .ready = $0 { true } else { false } } != nil
    }

    @Test("TCP: a port held by another socket backs off, and the server serves once the port is free")
    func tcpPortHeldThenFreed() async throws {
        let holder = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(holder.localAddress?.port)
        let server = try NIOServerResource(host: "127.0.0.1", port: port) { $0.pipeline.addHandler(EchoHandler()) }
        let supervisor = ResourceSupervisor(server, name: "echo", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        let (failure, error) = try #require(await Self.firstFailure(recorder))
        #expect(error.code == .bindFailed && error.errno == EADDRINUSE)
        #expect(failure.decision == .restart && failure.phase == .start)

        try await holder.close()
        #expect(await Self.ready(recorder))
        #expect(try await echo("ping", port: port) == "ping")
        task.cancel()
        try await task.value
    }

    @Test("TCP: a listening channel that closes by itself is rebound; new connections are served again")
    func tcpUnexpectedClose() async throws {
        let listening = Mutex<[any Channel]>([])
        let server = try NIOServerResource(
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

        #expect(await Self.ready(recorder))
        let first = try #require(listening.withLock { $0.first })
        let firstPort = try #require(first.localAddress?.port)
        #expect(try await echo("one", port: firstPort) == "one")
        try await first.close()  // the socket "fails" under the server

        let (failure, error) = try #require(await Self.firstFailure(recorder))
        #expect(error.code == .closedUnexpectedly && failure.phase == .run && failure.decision == .restart)
        #expect(await Self.ready(recorder))
        // The channel that serves now: a rebind that failed (the port not free yet) made one of its own before it.
        let second = try #require(listening.withLock { $0.count >= 2 ? $0.last : nil })
        #expect(try await echo("two", port: try #require(second.localAddress?.port)) == "two")
        task.cancel()
        try await task.value
    }

    @Test("UDP: a port held by another socket backs off, and datagrams arrive once the port is free")
    func udpPortHeldThenFreed() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let holder = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(holder.localAddress?.port)
        let collector = DatagramCollector()
        let receiver = try NIODatagramResource(host: "127.0.0.1", port: port) { $0.pipeline.addHandler(collector) }
        let supervisor = ResourceSupervisor(receiver, name: "udp", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        let (_, error) = try #require(await Self.firstFailure(recorder))
        #expect(error.errno == EADDRINUSE)
        try await holder.close()
        #expect(await Self.ready(recorder))

        let sender = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        defer { sender.close(promise: nil) }
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        // Bounded: a datagram every 10 ms for at most 2 s, until one arrives.
        for _ in 0..<200 where collector.payloads.withLock({ $0.isEmpty }) {
            try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: "hi")))
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(collector.payloads.withLock { $0.first } == "hi")
        task.cancel()
        try await task.value
    }

    @Test("an address that is on no interface is transient (EADDRNOTAVAIL): it keeps backing off")
    func addressNotAvailable() async throws {
        // 192.0.2.1 (TEST-NET-1) is on no interface here; binding sends nothing.
        let server = try NIOServerResource(host: "192.0.2.1", port: 0) { $0.eventLoop.makeSucceededVoidFuture() }
        let supervisor = ResourceSupervisor(server, name: "absent", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        for _ in 0..<3 {
            let (failure, error) = try #require(await Self.firstFailure(recorder))
            #expect(error.errno == EADDRNOTAVAIL && failure.decision == .restart)
        }
        task.cancel()
        try await task.value
    }

    @Test("classification table: transient errnos restart, permission and invalid ones give up")
    func classification() {
        func decision(_ errno: Int32) -> FailureDecision? {
            NIOAdapterError(.bindFailed, address: "x", underlying: IOError(errnoCode: errno, reason: "bind"))
                .failureDecision
        }
        for errno in [EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, ENOBUFS, EMFILE, ENFILE] {
            #expect(decision(errno) == .restart, "errno \(errno)")
        }
        for errno in [EACCES, EPERM, EINVAL, EAFNOSUPPORT] {
            #expect(decision(errno) == .giveUp, "errno \(errno)")
        }
        #expect(decision(ECONNRESET) == nil)
        let unparsable = NIOAdapterError(
            .bindFailed, address: "x", underlying: SocketAddressError.failedToParseIPString("x"))
        #expect(unparsable.failureDecision == .giveUp)
        #expect(NIOAdapterError(.closedUnexpectedly, address: "x").failureDecision == .restart)
    }
}
