import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import SRTAdapter
import ServiceLifecycle
import Supervisor
import Synchronization

/// `--metrics-port`: Prometheus text at `/metrics` and the listener's health at `/healthz` (200 `ready`, 503 with
/// the state while starting, backing off, degraded or stopped), over swift-nio's HTTP/1 server, bound to
/// 127.0.0.1 unless told otherwise. A `Service`: closes its socket on shutdown.
///
/// ```sh
/// curl -s 127.0.0.1:9100/metrics | grep supervisor_restarts
/// curl -si 127.0.0.1:9100/healthz     # HTTP/1.1 200 OK … ready
/// ```
struct MetricsServer: Service {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let server: SRTServer
    let console: Console

    /// The most scrapes served at once; more are closed on arrival.
    static let maxConnections = 16

    func run() async throws {
        let registry = self.registry
        let supervisor = server.supervisor
        let gate = ConnectionGate(limit: Self.maxConnections)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                // Every scrape holds a descriptor while it lasts. Refuse it (close it at once) beyond a few at a
                // time, and whenever it eats into the descriptors the SRT adapter keeps in reserve: a Swift process
                // with none left dies in libdispatch (Docs/srt-fault-model.md F), and recordings come first.
                guard gate.enter() else { return channel.close() }
                channel.closeFuture.whenComplete { _ in gate.leave() }
                guard SRTRuntime.hasDescriptorHeadroom else { return channel.close() }
                // Built on the channel's event loop: the handler never crosses threads.
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPHandler(
                            metrics: { registry.emitToBuffer() },
                            health: {
                                let state = supervisor.state
                                return (state.isReady, state.label)
                            }))
                }
            }
            .bind(host: host, port: port).get()
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let address = "\(shownHost):\(channel.localAddress?.port ?? port)"
        console.emit(
            "metrics", "metrics on http://\(address)/metrics and /healthz", ["address": .string(address)])
        // Serves until the shutdown (or the group's cancellation), then closes the listening socket.
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// Counts the scrape connections open now, up to a limit.
private final class ConnectionGate: Sendable {
    private let open = Atomic(0)
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts one more connection; `false` (and nothing counted) when `limit` are open already.
    func enter() -> Bool {
        if open.add(1, ordering: .relaxed).newValue <= limit { return true }
        open.subtract(1, ordering: .relaxed)
        return false
    }

    func leave() {
        open.subtract(1, ordering: .relaxed)
    }
}

/// Answers `GET /metrics` and `GET /healthz`; anything else is 404, other methods 405.
private final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let metrics: @Sendable () -> [UInt8]
    let health: @Sendable () -> (ready: Bool, state: String)
    private var request: HTTPRequestHead?

    init(metrics: @escaping @Sendable () -> [UInt8], health: @escaping @Sendable () -> (ready: Bool, state: String)) {
        self.metrics = metrics
        self.health = health
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let (status, type, body): (HTTPResponseStatus, String, [UInt8])
            switch (head.method, path) {
            case (.GET, "/metrics"):
                (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
            case (.GET, "/healthz"):
                let (ready, state) = health()
                (status, type, body) = (ready ? .ok : .serviceUnavailable, "text/plain", Array("\(state)\n".utf8))
            case (_, "/metrics"), (_, "/healthz"):
                (status, type, body) = (.methodNotAllowed, "text/plain", Array("GET only\n".utf8))
            default:
                (status, type, body) = (.notFound, "text/plain", Array("try /metrics or /healthz\n".utf8))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: "\(body.count)")
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                written.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
