// A supervised TCP echo server on 127.0.0.1:<port>, on SwiftNIO. Start a second copy on the same port: it backs off
// on EADDRINUSE and takes over within its backoff once the first one stops.
import Logging
import NIOAdapter
import NIOCore
import NIOPosix
import ServiceLifecycle
import Supervisor

/// Writes back whatever it reads.
final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 7000
let logger = Logger(label: "nio-echo-server")
let server = try NIOServerResource(host: "127.0.0.1", port: port) { channel in
    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
}
// Bind failures classify themselves (NIOAdapterError): a port in use restarts, a permission error gives up.
let supervisor = ResourceSupervisor(
    server, name: "echo",
    policy: try RestartPolicy(backoff: .exponential(initial: .milliseconds(100), maximum: .seconds(5)).jitter(.full)),
    logger: logger)
let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()
