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

/// How long a test waits for what takes milliseconds over loopback: a full `swift test` runs every suite at once in
/// one process on 2 cores, and its tasks (the test's own, the supervisor's) wait for a thread of the cooperative pool
/// for seconds, tens of seconds at its start. A wait ends as soon as its condition holds: this bounds failures only.
let loopbackWait = Duration.seconds(20)

/// Connects to 127.0.0.1:`port`, sends `text`, and returns what comes back first (bounded by ``loopbackWait``).
func echo(_ text: String, port: Int) async throws -> String {
    let group = MultiThreadedEventLoopGroup.singleton
    let promise = group.next().makePromise(of: ByteBuffer.self)
    let channel: any Channel
    do {
        channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelInitializer { $0.pipeline.addHandler(FirstReadHandler(promise)) }
            .connect(host: "127.0.0.1", port: port)
            .get()
    } catch {
        // A promise dropped unfulfilled traps in debug builds.
        promise.fail(error)
        throw error
    }
    defer { channel.close(promise: nil) }
    // From now, on an event loop: the test's task may wait for the pool for seconds before it writes.
    let limit = TimeAmount(loopbackWait)
    let timeout = group.next().scheduleTask(in: limit) { promise.fail(ChannelError.connectTimeout(limit)) }
    defer { timeout.cancel() }
    try await channel.writeAndFlush(ByteBuffer(string: text))
    return String(buffer: try await promise.futureResult.get())
}

/// A client connection to 127.0.0.1 that keeps what it reads and when the server closed it.
///
/// ```swift
/// let client = try await TestClient.connect(port: port)
/// try await client.send("work")
/// #expect(await client.wait(within: loopbackWait) { client.closedAt != nil })
/// ```
final class TestClient: Sendable {
    let channel: any Channel
    let recorder: ClientRecorder

    private init(channel: any Channel, recorder: ClientRecorder) {
        self.channel = channel
        self.recorder = recorder
    }

    static func connect(port: Int) async throws -> TestClient {
        let recorder = ClientRecorder()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .channelInitializer { $0.pipeline.addHandler(recorder) }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return TestClient(channel: channel, recorder: recorder)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Everything read so far.
    var received: String { recorder.state.withLock { $0.received } }

    /// When the server's close arrived (end of stream, or a reset), as the event loop saw it; nil while open.
    var closedAt: ContinuousClock.Instant? { recorder.state.withLock { $0.closedAt } }

    /// Waits, polling every 10 ms for at most `timeout`, until `condition` holds; whether it did.
    func wait(within timeout: Duration, until condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// Keeps a client's bytes and the instant its connection closed.
final class ClientRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    struct State {
        var received = ""
        var closedAt: ContinuousClock.Instant?
    }

    let state = Mutex(State())

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: unwrapInboundIn(data))
        state.withLock { $0.received += text }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Taken here, where the close arrives, not when the test's polling notices it.
        let now = ContinuousClock.now
        state.withLock { $0.closedAt = $0.closedAt ?? now }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A connection's handler that holds its request until the server quiesces, then answers "done:<request>" and
/// closes: a reply that a graceful shutdown must let finish. One per connection; `requests` may be shared.
final class ReplyOnQuiesceHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The requests read, across the connections that share it.
    let requests: RequestLog
    private var pending = ""

    init(requests: RequestLog) {
        self.requests = requests
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending = String(buffer: unwrapInboundIn(data))
        requests.items.withLock { [pending] in $0.append(pending) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let now = ContinuousClock.now
        requests.quiescedAt.withLock { $0 = $0 ?? now }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        // The reply first, then the close, once the reply is written.
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "done:\(pending)"))).whenComplete { _ in
            bound.value.close(promise: nil)
        }
    }
}

/// What the servers' connections read, shared between them.
final class RequestLog: Sendable {
    let items = Mutex<[String]>([])
    /// When the first `ChannelShouldQuiesceEvent` reached a connection, as its event loop saw it.
    let quiescedAt = Mutex<ContinuousClock.Instant?>(nil)
}

/// Channels a test keeps, such as the listening channels a server's initializer saw.
final class ChannelLog: Sendable {
    let channels = Mutex<[any Channel]>([])
}
