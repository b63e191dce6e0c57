public import NIOCore
public import NIOPosix
public import Supervisor

/// A UDP channel (`DatagramBootstrap`) as a `Restartable`: bound by `start()`, served until it closes
/// unexpectedly or is cancelled, closed by `stop(_:)`. Supervise it to rebind after transient bind errors and
/// after its socket fails; errors classify themselves (``NIOAdapterError``).
///
/// ```swift
/// let receiver = NIODatagramResource(host: "0.0.0.0", port: 5000) { channel in
///     channel.pipeline.addHandler(PacketHandler())
/// }
/// let supervisor = ResourceSupervisor(receiver, name: "udp-5000")
/// ```
public struct NIODatagramResource: Restartable {
    public let host: String
    public let port: Int
    private let group: any EventLoopGroup
    private let channelInitializer: @Sendable (any Channel) -> EventLoopFuture<Void>

    /// - Parameters:
    ///   - host: the address to bind, IPv4 or IPv6.
    ///   - port: the port; 0 picks any free port.
    ///   - group: the event loops; NIO's shared singleton by default.
    ///   - channelInitializer: sets up the channel's pipeline.
    public init(
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        channelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) {
        self.host = host
        self.port = port
        self.group = group
        self.channelInitializer = channelInitializer
    }

    private var address: String { "udp://\(host):\(port)" }

    public func start() async throws -> any Channel {
        do {
            return try await DatagramBootstrap(group: group)
                .channelInitializer(channelInitializer)
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
