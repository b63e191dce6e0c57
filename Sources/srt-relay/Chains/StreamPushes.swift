import Logging
import SRTAdapter
import ServiceLifecycle
import Synchronization

/// The relay's pushes (`--push`): when a stream gets a publisher and a rule matches it, a ``StreamPush`` sends the
/// stream on to that rule's listener, until the stream has been without a publisher for the linger time. One push per
/// stream and rule at a time; each runs as a task of this service, which the relay's tree stops with the rest.
///
/// ```swift
/// let pushes = StreamPushes(hubs: hubs, streams: settings, console: console)
/// async let running: Void = pushes.run()
/// pushes.published("cam1")      // from the publisher's task: starts the pushes of cam1 that are not running
/// ```
final class StreamPushes: Service, Sendable {
    let hubs: StreamHubs
    let streams: StreamSettings
    let console: Console
    let logger: Logger

    private struct State {
        /// Pushes running or about to, by stream name and rule index.
        var running: Set<Key> = []
        /// The next push's number.
        var next = 1
    }

    struct Key: Hashable, Sendable {
        let stream: String
        let rule: Int
    }

    private let state = Mutex(State())
    /// A push to start: its queue is in its stream's hub already.
    private struct Request: Sendable {
        let key: Key
        let id: Int
        /// The relays the stream came through before this one.
        let via: [String]
        let link: ChainLink
        let queue: ReaderQueue
        let hub: StreamHub
    }

    private let requests: AsyncStream<Request>
    private let requestSink: AsyncStream<Request>.Continuation

    init(hubs: StreamHubs, streams: StreamSettings, console: Console, logger: Logger = Logger(label: "srt-relay.push"))
    {
        self.hubs = hubs
        self.streams = streams
        self.console = console
        self.logger = logger
        (requests, requestSink) = AsyncStream.makeStream()
    }

    /// Whether any rule exists: without one, the relay runs no push service.
    var isEmpty: Bool { streams.pushes.isEmpty }

    /// Stream `name` has a publisher now, in `hub`: starts each matching push that is not running. Its queue joins
    /// the hub here, before the publisher's first message, so that the push sends the stream from its start. Never
    /// waits.
    func published(_ name: String, in hub: StreamHub, via: [String]) {
        for (index, rule) in streams.pushes.enumerated() where rule.matches(name) {
            let key = Key(stream: name, rule: index)
            let limit = streams.maxPushes
            let (id, full) = state.withLock { state -> (Int?, Int?) in
                guard !state.running.contains(key) else { return (nil, nil) }
                // A bound on outgoing connections: each name a publisher makes up would otherwise be one more.
                guard state.running.count < limit else { return (nil, state.running.count) }
                state.running.insert(key)
                defer { state.next += 1 }
                return (state.next, nil)
            }
            if let full {
                console.emit(
                    "push-refused", "✗ push of \(name) to \(rule): \(full) pushes running already (--max-pushes)",
                    ["stream": .string(name), "to": .string("\(rule)"), "pushes": .int(Int64(full))])
                continue
            }
            guard let id else { continue }
            // Never ended for being slow: a push that falls behind drops its oldest packets, counted, and goes on.
            let queue = ReaderQueue(limits: .init(maxBytes: streams.pushBuffer, slowLimit: .seconds(Int64.max / 4)))
            queue.startAtNextMessage()
            let link = ChainLink(kind: .push, stream: name, remote: "\(rule)", queue: queue)
            hub.attach(push: id, queue: queue)
            hub.add(link)
            let request = Request(key: key, id: id, via: via, link: link, queue: queue, hub: hub)
            if case .terminated = requestSink.yield(request) {
                hub.detach(push: id)
                hub.remove(link)
                link.end()
                ended(key)
            }
        }
    }

    /// The push `key` ended: the stream's next publisher starts it again.
    private func ended(_ key: Key) {
        _ = state.withLock { $0.running.remove(key) }
    }

    /// Runs every push asked for until the relay stops; then stops them.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { [requestSink] in
                try? await gracefulShutdown()
                requestSink.finish()
            }
            for await request in requests {
                let push = StreamPush(
                    name: request.key.stream, rule: streams.pushes[request.key.rule], id: request.id, via: request.via,
                    link: request.link,
                    queue: request.queue, hub: request.hub, hubs: hubs, streams: streams, console: console,
                    logger: logger)
                group.addTask {
                    await push.run()
                    self.ended(request.key)
                }
            }
            group.cancelAll()
        }
    }
}
