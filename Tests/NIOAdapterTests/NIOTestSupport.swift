import NIOCore
import NIOPosix
import Synchronization

/// Writes back whatever it reads.
final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

/// Completes a promise with the first bytes it reads.
final class FirstReadHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<ByteBuffer>

    init(_ promise: EventLoopPromise<ByteBuffer>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// Keeps every datagram's payload.
final class DatagramCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let payloads = Mutex<[String]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        payloads.withLock { $0.append(String(buffer: envelope.data)) }
    }
}

/// Connects to 127.0.0.1:`port`, sends `text`, and returns what comes back first (bounded by a 2 s timeout).
func echo(_ text: String, port: Int) async throws -> String {
    let group = MultiThreadedEventLoopGroup.singleton
    let promise = group.next().makePromise(of: ByteBuffer.self)
    let channel = try await ClientBootstrap(group: group)
        .connectTimeout(.seconds(2))
        .channelInitializer { $0.pipeline.addHandler(FirstReadHandler(promise)) }
        .connect(host: "127.0.0.1", port: port)
        .get()
    defer { channel.close(promise: nil) }
    let timeout = group.next().scheduleTask(in: .seconds(2)) { promise.fail(ChannelError.connectTimeout(.seconds(2))) }
    defer { timeout.cancel() }
    try await channel.writeAndFlush(ByteBuffer(string: text))
    return String(buffer: try await promise.futureResult.get())
}
