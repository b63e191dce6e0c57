import NIOCore

/// On a listening channel's pipeline: hands every accepted connection to an ``AcceptedConnections`` before passing
/// it on (to `ServerBootstrap`'s own handler, which sets it up).
///
/// ```swift
/// try channel.pipeline.syncOperations.addHandler(AcceptedConnectionCollector(connections))
/// ```
final class AcceptedConnectionCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel

    private let connections: AcceptedConnections

    init(_ connections: AcceptedConnections) {
        self.connections = connections
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connections.add(unwrapInboundIn(data))
        context.fireChannelRead(data)
    }
}
