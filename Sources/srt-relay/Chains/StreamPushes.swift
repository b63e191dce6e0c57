import Logging
import SRTAdapter
import ServiceLifecycle
import Supervisor
import Synchronization

/// The relay's pushes (`--push`): when a stream gets a publisher and a rule matches it, a ``StreamPush`` sends the
/// stream on to that rule's listener, until the stream has been without a publisher for the linger time. One push per
/// stream and rule at a time, at most `--max-pushes`; each is a temporary child of the relay tree's `pushes` group,
/// named by its number, which the tree stops with the rest.
///
/// ```swift
/// let pushes = StreamPushes(hubs: hubs, streams: settings, console: console, tree: tree, workerPolicy: once)
/// pushes.published("cam1", in: hub, via: [])   // from the publisher's task: starts cam1's pushes not running
/// ```
final class StreamPushes: Sendable {
    let hubs: StreamHubs
    let streams: StreamSettings
    let console: Console
    let logger: Logger
    /// The relay's tree: each push is a child of its `pushes` group.
    let tree: TreeReference
    /// Each push's policy as a child: never restarted (its caller reconnects inside it).
    let workerPolicy: RestartPolicy

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

    init(
        hubs: StreamHubs, streams: StreamSettings, console: Console, tree: TreeReference, workerPolicy: RestartPolicy,
        logger: Logger = Logger(label: "srt-relay.push")
    ) {
        self.hubs = hubs
        self.streams = streams
        self.console = console
        self.tree = tree
        self.workerPolicy = workerPolicy
        self.logger = logger
    }

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
            let push = StreamPush(
                name: name, rule: rule, id: id, via: via, link: link, queue: queue, hub: hub, hubs: hubs,
                streams: streams, console: console, logger: logger)
            do {
                guard let group = tree.group?.group(at: "pushes") else { throw CancellationError() }
                try group.add(
                    .service(
                        ChainWorker { [self] in
                            await push.run()
                            ended(key)
                        }, name: "\(id)", policy: workerPolicy, restart: .temporary))
            } catch {
                // The tree is stopping: the push never starts.
                queue.close()
                hub.detach(push: id)
                hub.remove(link)
                link.end()
                hubs.forgetIfIdle(name)
                ended(key)
            }
        }
    }

    /// The push `key` ended: the stream's next publisher starts it again.
    private func ended(_ key: Key) {
        _ = state.withLock { $0.running.remove(key) }
    }
}
