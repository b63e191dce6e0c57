public import NIOCore
public import NIOPosix
public import Supervisor

/// A UDP channel (`DatagramBootstrap`) as a `Restartable`: bound by `start()`, served until it closes
/// unexpectedly or is cancelled, closed by `stop(_:)`. Supervise it to rebind after transient bind errors,
/// name resolution failures and after its socket fails; errors classify themselves (``NIOAdapterError``).
///
/// A host name is resolved at every start on a thread of its own, never on the caller's task. Port 0 means
/// "any port, once": ``boundPort`` tells the port the first bind got, and every restart binds it again.
///
/// ```swift
/// let receiver = try NIODatagramResource(host: "0.0.0.0", port: 5000) { channel in
///     channel.pipeline.addHandler(PacketHandler())
/// }
/// let supervisor = ResourceSupervisor(receiver, name: "udp-5000")
/// ```
public struct NIODatagramResource: Restartable {
    /// The host as configured (a name, an IP literal, or the IP of the address given).
    public var host: String { target.host }
    /// The port as configured; 0 for any (then ``boundPort`` tells which).
    public var port: Int { target.port }
    private let target: NIOBindTarget
    private let group: any EventLoopGroup
    private let channelInitializer: @Sendable (any Channel) -> EventLoopFuture<Void>

    /// - Parameters:
    ///   - host: the address to bind: an IPv4 or IPv6 literal, or a host name (resolved at every start, off the
    ///     cooperative pool).
    ///   - port: the port; 0 picks any free port on the first start, which every restart binds again.
    ///   - group: the event loops; NIO's shared singleton by default.
    ///   - channelInitializer: sets up the channel's pipeline.
    /// - Throws: `ConfigurationError` unless `port` is in 0...65535 and `host` is not empty.
    public init(
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        channelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) throws(ConfigurationError) {
        self.target = try NIOBindTarget(host: host, port: port)
        self.group = group
        self.channelInitializer = channelInitializer
    }

    /// A channel on an address resolved beforehand (port 0 in it picks any port once, as with a host).
    ///
    /// ```swift
    /// let receiver = NIODatagramResource(address: try SocketAddress(ipAddress: "::1", port: 5000)) { channel in
    ///     channel.pipeline.addHandler(PacketHandler())
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - address: where to bind; port 0 picks any free port on the first start, which every restart binds again.
    ///   - group: the event loops; NIO's shared singleton by default.
    ///   - channelInitializer: sets up the channel's pipeline.
    public init(
        address: SocketAddress,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        channelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) {
        self.target = NIOBindTarget(address: address)
        self.group = group
        self.channelInitializer = channelInitializer
    }

    /// The port the channel got on its first start, which every restart binds again; nil before it.
    public var boundPort: Int? { target.boundPort }

    private var address: String { target.description(scheme: "udp") }

    public func start() async throws -> any Channel {
        let socketAddress = try await NIOChannelLifetime.resolve(target, address: address)
        do {
            let channel = try await DatagramBootstrap(group: group)
                .channelInitializer(channelInitializer)
                .bind(to: socketAddress)
                .get()
            target.bound(channel)
            return channel
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
