import Logging
import SRTAdapter
import ServiceLifecycle
import Synchronization

/// The relay's pulls (`--pull`, edge mode): when a reader asks for a stream that has no publisher here and a rule
/// matches it, a ``StreamPull`` fetches the stream from that rule's origin, until the stream has had no reader for
/// the linger time. One pull per stream at a time (the first matching rule); each runs as a task of this service,
/// which the relay's tree stops with the rest.
///
/// ```swift
/// let pulls = StreamPulls(hubs: hubs, table: table, streams: settings, console: console)
/// async let running: Void = pulls.run()
/// pulls.wanted("cam1", in: hub)      // from a reader's task: starts the pull of cam1 unless it runs
/// ```
final class StreamPulls: Service, Sendable {
    let hubs: StreamHubs
    let table: ConnectionTable
    let streams: StreamSettings
    let console: Console
    let logger: Logger

    /// The streams pulled now, or about to be.
    private let running = Mutex<Set<String>>([])
    /// A pull to start: the stream, its rule, its hub, and the relays its first reader came through.
    private struct Request: Sendable {
        let name: String
        let rule: PushRule
        let hub: StreamHub
        let via: [String]
    }

    private let requests: AsyncStream<Request>
    private let requestSink: AsyncStream<Request>.Continuation

    init(
        hubs: StreamHubs, table: ConnectionTable, streams: StreamSettings, console: Console,
        logger: Logger = Logger(label: "srt-relay.pull")
    ) {
        self.hubs = hubs
        self.table = table
        self.streams = streams
        self.console = console
        self.logger = logger
        (requests, requestSink) = AsyncStream.makeStream()
    }

    /// A reader joined stream `name`, in `hub`: starts its pull when no publisher has it here, a rule matches and no
    /// pull of it runs. Never waits.
    func wanted(_ name: String, in hub: StreamHub, via: [String]) {
        guard hub.publisher == nil, let rule = streams.pulls.first(where: { $0.matches(name) }) else { return }
        guard running.withLock({ $0.insert(name).inserted }) else { return }
        hub.isPulled = true
        if case .terminated = requestSink.yield(Request(name: name, rule: rule, hub: hub, via: via)) {
            hub.isPulled = false
            ended(name)
        }
    }

    private func ended(_ name: String) {
        _ = running.withLock { $0.remove(name) }
    }

    /// Runs every pull asked for until the relay stops; then stops them.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { [requestSink] in
                try? await gracefulShutdown()
                requestSink.finish()
            }
            for await request in requests {
                let pull = StreamPull(
                    name: request.name, rule: request.rule, via: request.via, hub: request.hub, hubs: hubs,
                    table: table,
                    streams: streams, console: console, logger: logger)
                group.addTask {
                    await pull.run()
                    self.ended(request.name)
                }
            }
            group.cancelAll()
        }
    }
}
