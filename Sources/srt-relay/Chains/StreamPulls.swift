import Logging
import SRTAdapter
import Supervisor
import Synchronization

/// The relay's pulls (`--pull`, edge mode): when a reader asks for a stream that has no publisher here and a rule
/// matches it, a ``StreamPull`` fetches the stream from that rule's origin, until the stream has had no reader for
/// the linger time. One pull per stream at a time (the first matching rule); each is a temporary child of the relay
/// tree's `pulls` group, named by its number, which the tree stops with the rest.
///
/// ```swift
/// let pulls = StreamPulls(hubs: hubs, table: table, streams: settings, console: console, tree: tree, workerPolicy: once)
/// pulls.wanted("cam1", in: hub, via: [])      // from a reader's task: starts the pull of cam1 unless it runs
/// ```
final class StreamPulls: Sendable {
    let hubs: StreamHubs
    let table: ConnectionTable
    let streams: StreamSettings
    let console: Console
    let logger: Logger
    /// The relay's tree: each pull is a child of its `pulls` group.
    let tree: TreeReference
    /// Each pull's policy as a child: never restarted (its caller reconnects inside it).
    let workerPolicy: RestartPolicy
    /// The next pull's number (its child's name).
    private let next = Atomic(1)

    /// The streams pulled now, or about to be.
    private let running = Mutex<Set<String>>([])
    init(
        hubs: StreamHubs, table: ConnectionTable, streams: StreamSettings, console: Console, tree: TreeReference,
        workerPolicy: RestartPolicy, logger: Logger = Logger(label: "srt-relay.pull")
    ) {
        self.hubs = hubs
        self.table = table
        self.streams = streams
        self.console = console
        self.tree = tree
        self.workerPolicy = workerPolicy
        self.logger = logger
    }

    /// A reader joined stream `name`, in `hub`: starts its pull when no publisher has it here, a rule matches and no
    /// pull of it runs. Never waits.
    func wanted(_ name: String, in hub: StreamHub, via: [String]) {
        wanted(name, in: hub, via: via, refused: [])
    }

    /// `refused`: the chains the origin refused as loops already, for this stream's readers now.
    private func wanted(_ name: String, in hub: StreamHub, via: [String], refused: Set<[String]>) {
        guard hub.publisher == nil, let rule = streams.pulls.first(where: { $0.matches(name) }) else { return }
        let limit = streams.maxPulls
        // A bound on outgoing connections: each name a reader makes up would otherwise be one more.
        let (started, full) = running.withLock { running -> (Bool, Int?) in
            guard !running.contains(name) else { return (false, nil) }
            guard running.count < limit else { return (false, running.count) }
            running.insert(name)
            return (true, nil)
        }
        if let full {
            console.emit(
                "pull-refused", "✗ pull of \(name) from \(rule): \(full) pulls running already (--max-pulls)",
                ["stream": .string(name), "from": .string("\(rule)"), "pulls": .int(Int64(full))])
        }
        guard started else { return }
        hub.isPulled = true
        let pull = StreamPull(
            name: name, rule: rule, via: via, hub: hub, hubs: hubs, table: table, streams: streams, console: console,
            logger: logger)
        do {
            guard let group = tree.group?.group(at: "pulls") else { throw CancellationError() }
            try group.add(
                .service(
                    ChainWorker { [self] in
                        let ending = await pull.run()
                        ended(name)
                        // A reader that came while it ended, or readers a local publisher has left since: pulled again.
                        if ending.mayResume, hub.readerCount > 0 { wanted(name, in: hub, via: via) }
                        // The chain of the reader that started it was refused (any reader may write its x-via): the
                        // other readers are pulled for with theirs, each chain tried once.
                        if case .gaveUp(_, looped: true) = ending {
                            let refused = refused.union([via])
                            if let other = hub.readers.first(where: { !refused.contains($0.via) }) {
                                wanted(name, in: hub, via: other.via, refused: refused)
                            }
                        }
                    }, name: "\(next.add(1, ordering: .relaxed).oldValue)", policy: workerPolicy, restart: .temporary))
        } catch {
            // The tree is stopping: the pull never starts.
            hub.isPulled = false
            hubs.forgetIfIdle(name)
            ended(name)
        }
    }

    private func ended(_ name: String) {
        _ = running.withLock { $0.remove(name) }
    }
}
