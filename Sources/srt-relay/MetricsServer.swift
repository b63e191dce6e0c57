import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import SRTAdapter
import ServiceLifecycle
import Supervisor
import Synchronization

/// `--metrics-port`: Prometheus text at `/metrics`, the listener's health at `/healthz` (200 `ready`, 503 with
/// the state while starting, backing off, degraded or stopped, or `disk-space-low` below `--min-free`; a second line
/// counts the dead multiplexers libsrt keeps), the relay's supervision tree with each child's state at `/tree`, and
/// the streams and connections API at `/v1/…` (``RelayAPI``), over swift-nio's HTTP/1 server, bound to 127.0.0.1
/// unless told otherwise. A `Service`: closes its socket on shutdown.
///
/// ```sh
/// curl -s 127.0.0.1:9100/metrics | grep supervisor_restarts
/// curl -si 127.0.0.1:9100/healthz     # HTTP/1.1 200 OK … ready
/// curl -s 127.0.0.1:9100/tree         # srt-relay (rest for one): ready …
/// ```
struct MetricsServer: Service {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let server: SRTServer
    /// Shown in `/healthz` beside the count of leaked multiplexers.
    let leakLimit: SRTLeakLimit
    let console: Console
    /// `--min-free`: `/healthz` is 503 `disk-space-low` while space is low (publishers are refused).
    var space: DiskSpaceGuard?
    /// The relay's tree, for `/tree`.
    var tree: TreeReference?
    /// The streams and connections, for `/v1/…`.
    var api: RelayAPI?

    /// The most scrapes served at once; a new one beyond it takes the place of the one idle longest.
    static let maxConnections = 16
    /// How long a connection may wait for (the rest of) a request before it is closed: from its accept, and again
    /// from each answer.
    static let idleTimeout = TimeAmount.seconds(5)
    /// The most bytes a request may take (request line, headers and any body); a longer one closes the connection.
    static let maxRequestSize = 8 * 1024

    func run() async throws {
        let registry = self.registry
        let supervisor = server.supervisor
        let leakLimit = self.leakLimit
        let api = self.api
        let connections = ScrapeConnections(limit: Self.maxConnections)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                // Every scrape holds a descriptor while it lasts: never more than a few at a time, and none that
                // eats into the descriptors the SRT adapter keeps in reserve (a Swift process with none left dies
                // in libdispatch, Docs/srt-fault-model.md F; recordings come first).
                guard SRTRuntime.hasDescriptorHeadroom else { return channel.close() }
                // At the cap, the connection idle longest makes room: idle clients cannot lock scrapes out.
                connections.admit(channel)
                channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                // Built on the channel's event loop: the handlers never cross threads.
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RequestGuard(
                            idleTimeout: Self.idleTimeout, maxRequestSize: Self.maxRequestSize,
                            answered: { connections.answered(channel) }))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPHandler(
                            metrics: { registry.emitToBuffer() },
                            tree: { [tree] in tree?.group.map { "\($0.snapshot())\n" } ?? "no tree\n" },
                            health: { [space] in
                                let state = supervisor.state
                                let leaked = Reporter.leaked(SRTRuntime.leakedMultiplexerCount, limit: leakLimit)
                                // Ready to listen, but refusing every publisher: not ready to take traffic.
                                if state.isReady, space?.isLow == true { return (false, "disk-space-low\n\(leaked)") }
                                return (state.isReady, "\(state.label)\n\(leaked)")
                            }, api: api))
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

/// The scrape connections open now, each with the time it last became idle (accepted, or answered), up to a limit.
private final class ScrapeConnections: Sendable {
    private let open = Mutex<[ObjectIdentifier: (channel: any Channel, idleSince: NIODeadline)]>([:])
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts `channel` in; when `limit` are open already, closes the one idle longest to make room.
    func admit(_ channel: any Channel) {
        let evicted = open.withLock { open -> (any Channel)? in
            var evicted: (any Channel)?
            if open.count >= limit, let oldest = open.min(by: { $0.value.idleSince < $1.value.idleSince }) {
                open.removeValue(forKey: oldest.key)
                evicted = oldest.value.channel
            }
            open[ObjectIdentifier(channel)] = (channel, .now())
            return evicted
        }
        // Outside the lock: closing runs on the evicted channel's own event loop.
        evicted?.close(promise: nil)
    }

    /// `channel` sent its answer: idle again from now.
    func answered(_ channel: any Channel) {
        open.withLock { open in open[ObjectIdentifier(channel)]?.idleSince = .now() }
    }

    func remove(_ channel: any Channel) {
        _ = open.withLock { open in open.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// First in the pipeline, on the raw bytes: closes a connection that sends no complete request within
/// `idleTimeout` (from its accept, then from each answer), or more than `maxRequestSize` bytes before the answer.
private final class RequestGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    let idleTimeout: TimeAmount
    let maxRequestSize: Int
    let answered: () -> Void
    /// Bytes received since the last answer.
    private var received = 0
    private var deadline: Scheduled<Void>?

    init(idleTimeout: TimeAmount, maxRequestSize: Int, answered: @escaping () -> Void) {
        self.idleTimeout = idleTimeout
        self.maxRequestSize = maxRequestSize
        self.answered = answered
    }

    func handlerAdded(context: ChannelHandlerContext) {
        restartDeadline(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        // Too big for a scrape: nothing more is read or answered.
        guard received <= maxRequestSize else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // An answer goes out: the next request starts from nothing, with a fresh deadline.
        received = 0
        restartDeadline(context: context)
        answered()
        context.write(data, promise: promise)
    }

    private func restartDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
    }
}

/// Answers `GET /metrics`, `GET /healthz` and `GET /tree`; anything else is 404, other methods 405.
private final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let metrics: @Sendable () -> [UInt8]
    let tree: @Sendable () -> String
    let health: @Sendable () -> (ready: Bool, state: String)
    /// `/v1/…`, when the relay serves it.
    let api: RelayAPI?
    private var request: HTTPRequestHead?

    init(
        metrics: @escaping @Sendable () -> [UInt8], tree: @escaping @Sendable () -> String,
        health: @escaping @Sendable () -> (ready: Bool, state: String), api: RelayAPI?
    ) {
        self.metrics = metrics
        self.tree = tree
        self.health = health
        self.api = api
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
            if let api, path.hasPrefix("/v1/") {
                // The API may wait for libsrt (a connection's statistics): answered when ready, on this loop. The
                // pipelining handler holds any next request until this answer ends.
                let method = head.method.rawValue
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let promise = context.eventLoop.makePromise(of: RelayAPI.Response?.self)
                promise.completeWithTask { await api.respond(method: method, path: path) }
                promise.futureResult.whenSuccess { response in
                    let (handler, context) = bound.value
                    let response = response ?? RelayAPI.Response(status: 404, body: Array("not found\n".utf8))
                    handler.send(
                        context, head: head, status: HTTPResponseStatus(statusCode: response.status),
                        type: "application/json", body: response.body)
                }
                return
            }
            let (status, type, body): (HTTPResponseStatus, String, [UInt8])
            switch (head.method, path) {
            case (.GET, "/metrics"):
                (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
            case (.GET, "/healthz"):
                let (ready, state) = health()
                (status, type, body) = (ready ? .ok : .serviceUnavailable, "text/plain", Array("\(state)\n".utf8))
            case (.GET, "/tree"):
                (status, type, body) = (.ok, "text/plain; charset=utf-8", Array(tree().utf8))
            case (_, "/metrics"), (_, "/healthz"), (_, "/tree"):
                (status, type, body) = (.methodNotAllowed, "text/plain", Array("GET only\n".utf8))
            default:
                (status, type, body) = (
                    .notFound, "text/plain", Array("try /metrics, /healthz, /tree or /v1/streams\n".utf8)
                )
            }
            send(context, head: head, status: status, type: type, body: body)
        }
    }

    /// Writes one answer; closes the connection after it unless the request asked to keep it alive.
    private func send(
        _ context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, type: String,
        body: [UInt8]
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
