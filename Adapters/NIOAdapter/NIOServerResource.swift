public import NIOCore
public import NIOPosix
public import Supervisor

/// A TCP server channel (`ServerBootstrap`) as a `Restartable`: bound by `start()`, served until it closes
/// unexpectedly or is cancelled, closed by `stop(_:)`. Supervise it to rebind after transient bind errors
/// (`EADDRINUSE`, `EADDRNOTAVAIL`) and after an unexpected close; errors classify themselves
/// (``NIOAdapterError``). Accepted connections are not touched by a restart of the listening channel.
///
/// ```swift
/// let echo = NIOServerResource(host: "127.0.0.1", port: 7000) { channel in
///     channel.pipeline.addHandler(EchoHandler())
/// }
/// let supervisor = ResourceSupervisor(echo, name: "echo", policy: try RestartPolicy())
/// try await ServiceGroup(services: [supervisor], logger: logger).run()
/// ```
public struct NIOServerResource: Restartable {
    public let host: String
    public let port: Int
    private let group: any EventLoopGroup
    private let serverChannelInitializer: @Sendable (any Channel) -> EventLoopFuture<Void>
    private let childChannelInitializer: @Sendable (any Channel) -> EventLoopFuture<Void>

    /// - Parameters:
    ///   - host: the address to bind, IPv4 or IPv6.
    ///   - port: the port; 0 picks any free port (read it from the instance's `localAddress`).
    ///   - group: the event loops; NIO's shared singleton by default.
    ///   - serverChannelInitializer: sets up the listening channel's own pipeline.
    ///   - childChannelInitializer: sets up each accepted connection.
    public init(
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        serverChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void> = {
            $0.eventLoop.makeSucceededVoidFuture()
        },
        childChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) {
        self.host = host
        self.port = port
        self.group = group
        self.serverChannelInitializer = serverChannelInitializer
        self.childChannelInitializer = childChannelInitializer
    }

    private var address: String { "tcp://\(host):\(port)" }

    public func start() async throws -> any Channel {
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer(serverChannelInitializer)
                .childChannelInitializer(childChannelInitializer)
                .bind(host: host, port: port)
                .get()
        } catch {
            throw NIOAdapterError(.bindFailed, address: address, underlying: error)
        }
    }

    public func run(_ channel: any Channel) async throws {
        try await NIOChannelLifetime.serve(channel, address: address)
    }

    public func stop(_ channel: any Channel) async {
        await NIOChannelLifetime.close(channel)
    }
}
