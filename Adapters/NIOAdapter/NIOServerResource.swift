public import NIOCore
public import NIOPosix
public import Supervisor

/// A TCP server channel (`ServerBootstrap`) as a `Restartable`: bound by `start()`, served until it closes
/// unexpectedly or is cancelled, closed by `stop(_:)`. Supervise it to rebind after transient bind errors
/// (`EADDRINUSE`, `EADDRNOTAVAIL`), name resolution failures and an unexpected close; errors classify themselves
/// (``NIOAdapterError``).
///
/// - A host name is resolved at every start on a thread of its own (at most 64 resolutions at once in the
///   process), never on the caller's task; an IP literal needs no resolver; the initializer with an `address`
///   takes one resolved beforehand.
/// - Port 0 means "any port, once": the first bind takes the port the kernel picks, ``boundPort`` tells it, and
///   every restart binds that same port again, so clients keep reaching the server.
/// - Accepted connections go on through a restart of the listening channel. When serving ends for good (the run is
///   cancelled: the supervisor's task is cancelled or its `ServiceGroup` shuts down gracefully) they are drained as
///   ``NIOConnectionDrain`` says: a `ChannelShouldQuiesceEvent` to each, then a close for those still open when the
///   grace period ends. If supervision ends while no listener is bound (a shutdown during a backoff, or giving up),
///   no stop is left to do it: call ``closeConnections()`` after the supervisor's `run()` returns.
///
/// ```swift
/// let echo = try NIOServerResource(host: "127.0.0.1", port: 7000) { channel in
///     channel.pipeline.addHandler(EchoHandler())
/// }
/// let supervisor = ResourceSupervisor(echo, name: "echo", policy: try RestartPolicy())
/// try await ServiceGroup(services: [supervisor], logger: logger).run()
/// ```
public struct NIOServerResource: Restartable {
    /// The host as configured (a name, an IP literal, or the IP of the address given).
    public var host: String { target.host }
    /// The port as configured; 0 for any (then ``boundPort`` tells which).
    public var port: Int { target.port }
    /// What happens to accepted connections when serving ends for good.
    public let drain: NIOConnectionDrain
    private let target: NIOBindTarget
    private let connections = AcceptedConnections()
    private let group: any EventLoopGroup
    private let serverChannelInitializer: @Sendable (any Channel) -> EventLoopFuture<Void>
    private let childChannelInitializer: @Sendable (any Channel) -> EventLoopFuture<Void>

    /// - Parameters:
    ///   - host: the address to bind: an IPv4 or IPv6 literal, or a host name (resolved at every start, off the
    ///     cooperative pool).
    ///   - port: the port; 0 picks any free port on the first start, which every restart binds again.
    ///   - group: the event loops; NIO's shared singleton by default.
    ///   - drain: what happens to accepted connections when serving ends for good; 5 s of grace by default.
    ///   - serverChannelInitializer: sets up the listening channel's own pipeline.
    ///   - childChannelInitializer: sets up each accepted connection.
    /// - Throws: `ConfigurationError` unless `port` is in 0...65535 and `host` is not empty.
    public init(
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        drain: NIOConnectionDrain = .standard,
        serverChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void> = {
            $0.eventLoop.makeSucceededVoidFuture()
        },
        childChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) throws(ConfigurationError) {
        self.init(
            target: try NIOBindTarget(host: host, port: port), group: group, drain: drain,
            serverChannelInitializer: serverChannelInitializer, childChannelInitializer: childChannelInitializer)
    }

    /// A server on an address resolved beforehand (port 0 in it picks any port once, as with a host).
    ///
    /// ```swift
    /// let address = try SocketAddress(ipAddress: "::1", port: 0)
    /// let server = NIOServerResource(address: address) { $0.pipeline.addHandler(EchoHandler()) }
    /// ```
    ///
    /// - Parameters:
    ///   - address: where to bind; port 0 picks any free port on the first start, which every restart binds again.
    ///   - group: the event loops; NIO's shared singleton by default.
    ///   - drain: what happens to accepted connections when serving ends for good; 5 s of grace by default.
    ///   - serverChannelInitializer: sets up the listening channel's own pipeline.
    ///   - childChannelInitializer: sets up each accepted connection.
    public init(
        address: SocketAddress,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        drain: NIOConnectionDrain = .standard,
        serverChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void> = {
            $0.eventLoop.makeSucceededVoidFuture()
        },
        childChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) {
        self.init(
            target: NIOBindTarget(address: address), group: group, drain: drain,
            serverChannelInitializer: serverChannelInitializer, childChannelInitializer: childChannelInitializer)
    }

    private init(
        target: NIOBindTarget,
        group: any EventLoopGroup,
        drain: NIOConnectionDrain,
        serverChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>,
        childChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) {
        self.target = target
        self.group = group
        self.drain = drain
        self.serverChannelInitializer = serverChannelInitializer
        self.childChannelInitializer = childChannelInitializer
    }

    /// The port the listening channel got on its first start, which every restart binds again; nil before it.
    public var boundPort: Int? { target.boundPort }

    /// How many accepted connections are open now, whichever listening channel accepted them.
    public var openConnections: Int { connections.count }

    private var address: String { target.description(scheme: "tcp") }

    public func start() async throws -> any Channel {
        let socketAddress = try await NIOChannelLifetime.resolve(target, address: address)
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { [connections, serverChannelInitializer] channel in
                    // First, so that it sees every accepted connection whatever the user's handlers do.
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AcceptedConnectionCollector(connections))
                    }.flatMap { serverChannelInitializer(channel) }
                }
                .childChannelInitializer(childChannelInitializer)
                .bind(to: socketAddress)
                .get()
            target.bound(channel)
            return channel
        } catch {
            throw NIOAdapterError(.bindFailed, address: address, underlying: error)
        }
    }

    public func run(_ channel: any Channel) async throws {
        do {
            try await NIOChannelLifetime.serve(channel, address: address)
        } catch let error as NIOAdapterError where error.code == .closedUnexpectedly {
            // A restart: the connections this listener accepted go on.
            connections.listenerClosedUnexpectedly(channel)
            throw error
        }
    }

    /// Closes the listening channel; unless it closed by itself (a restart), drains every accepted connection as
    /// ``drain`` says, returning once they are all closed.
    public func stop(_ channel: any Channel) async {
        await NIOChannelLifetime.close(channel)
        guard !connections.isRestarting(channel) else { return }
        await connections.drain(gracePeriod: drain.gracePeriod)
    }

    /// Drains every accepted connection still open as ``drain`` says, returning once they are all closed: for those
    /// that earlier listening channels accepted when supervision ended while no listener was bound.
    ///
    /// ```swift
    /// try? await supervisor.run()
    /// await server.closeConnections()
    /// ```
    public func closeConnections() async {
        await connections.drain(gracePeriod: drain.gracePeriod)
    }
}
