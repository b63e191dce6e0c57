import Dispatch
import Metrics
import SRTAdapter
import Synchronization

/// The relay's open connections, the bytes they carried and the restarts so far, read by the status line.
///
/// Connections are registered when accepted and removed when their stream ended;
/// ``closeAll(closingOutputsWithin:)`` closes the open ones, which ends their streams (the recorders then flush and
/// close, within the shutdown's limit).
final class ConnectionTable: Sendable {
    /// One open connection, as the API shows it.
    struct Entry: Sendable {
        let id: Int
        let connection: SRTConnection
        let since: ContinuousClock.Instant
        /// What its stream id asks for; `nil` for one the relay cannot read (it is closed at once).
        let request: StreamRequest?
    }

    private struct State {
        var open: [ObjectIdentifier: SRTConnection] = [:]
        /// The open connections by their number (``add(_:)``).
        var entries: [Int: Entry] = [:]
        var ids: [ObjectIdentifier: Int] = [:]
        var nextID = 1
        /// Where each open connection's stream goes, once its sink exists.
        var sinks: [ObjectIdentifier: any StreamSink] = [:]
        var closing = false
        /// Waiting for the table to empty (``waitUntilEmpty(within:)``), by number.
        var emptyWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())
    /// Payload bytes received by every connection since start, ever increasing.
    let totalBytes = Atomic<UInt64>(0)
    /// Listener restarts since start (the reporter counts them).
    let restarts = Atomic<Int>(0)
    /// Connections accepted since start.
    let accepted = Atomic<Int>(0)
    /// Writes that failed with a transient error and were retried (one per failing streak).
    let writeRetries = Atomic<Int>(0)
    /// Outputs that failed: a recording ended by its disk, a failed `fsync` or `close`.
    let outputFailures = Atomic<Int>(0)
    /// The same figures for `/metrics` (a no-op unless a metrics backend was bootstrapped first).
    let receivedBytesMetric = Counter(label: "srt_relay_received_bytes_total")
    private let acceptedMetric = Counter(label: "srt_relay_accepted_connections_total")
    private let openMetric = Gauge(label: "srt_relay_open_connections")

    /// Packets libsrt dropped as too late on connections that ended (live mode skips what the latency could not
    /// bring in time): holes in what was recorded or forwarded.
    private let droppedPacketsMetric = Counter(label: "srt_relay_dropped_packets_total")

    /// Counts `bytes` of payload received from a publisher (or a pull), for the status lines and `/metrics`.
    func countReceived(_ bytes: Int) {
        totalBytes.add(UInt64(bytes), ordering: .relaxed)
        receivedBytesMetric.increment(by: Int64(bytes))
    }

    /// Counts `count` packets libsrt dropped as too late on a connection that ended.
    func countDroppedPackets(_ count: Int) {
        droppedPacketsMetric.increment(by: Int64(count))
    }

    /// Counts an output failure of `operation` (`write`, `fsync`, `close`, `disk-space`).
    func countOutputFailure(_ operation: String) {
        outputFailures.add(1, ordering: .relaxed)
        Counter(label: "srt_relay_output_failures_total", dimensions: [("operation", operation)]).increment()
    }

    /// Registers `connection` and returns its number (1, 2, …: the API's connection id); returns `nil` (and closes
    /// it) once shutdown began.
    func add(_ connection: SRTConnection) -> Int? {
        let id = state.withLock { state -> Int? in
            guard !state.closing else { return nil }
            let key = ObjectIdentifier(connection)
            let id = state.nextID
            state.nextID += 1
            state.open[key] = connection
            state.ids[key] = id
            state.entries[id] = Entry(
                id: id, connection: connection, since: .now, request: try? StreamRequest(parsing: connection.streamID))
            return id
        }
        if id != nil {
            accepted.add(1, ordering: .relaxed)
            acceptedMetric.increment()
            openMetric.record(count)
        } else {
            connection.close()
        }
        return id
    }

    /// The open connection numbered `id`.
    func entry(_ id: Int) -> Entry? {
        state.withLock { $0.entries[id] }
    }

    /// Every open connection, by number.
    var entries: [Entry] {
        state.withLock { Array($0.entries.values) }.sorted { $0.id < $1.id }
    }

    /// Registers where `connection`'s stream goes: ``closeAll(closingOutputsWithin:)`` shortens its close. A sink
    /// registered once the shutdown began is hurried at once.
    func attach(_ sink: any StreamSink, to connection: SRTConnection, closingWithin limit: Duration) {
        let closing = state.withLock { state in
            state.sinks[ObjectIdentifier(connection)] = sink
            return state.closing
        }
        if closing { sink.hurry(within: limit) }
    }

    func remove(_ connection: SRTConnection) {
        let (open, waiters) = state.withLock { state in
            state.sinks.removeValue(forKey: ObjectIdentifier(connection))
            state.open.removeValue(forKey: ObjectIdentifier(connection))
            if let id = state.ids.removeValue(forKey: ObjectIdentifier(connection)) { state.entries[id] = nil }
            guard state.open.isEmpty else { return (state.open.count, [CheckedContinuation<Void, Never>]()) }
            defer { state.emptyWaiters.removeAll() }
            return (0, Array(state.emptyWaiters.values))
        }
        openMetric.record(open)
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no connection is open, or after `limit`. Not ended by cancellation: the shutdown waits here in a
    /// cancelled task for the recordings' flushes.
    func waitUntilEmpty(within limit: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = state.withLock { state -> Int? in
                guard !state.open.isEmpty else { return nil }
                defer { state.nextWaiter += 1 }
                state.emptyWaiters[state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let id else { return continuation.resume() }
            DispatchQueue.global().asyncAfter(deadline: .now() + Units.seconds(limit)) { [self] in
                state.withLock { $0.emptyWaiters.removeValue(forKey: id) }?.resume()
            }
        }
    }

    /// How many connections are open now.
    var count: Int {
        state.withLock { $0.open.count }
    }

    /// Whether ``closeAll(closingOutputsWithin:)`` was called: a connection closed locally now is closed for the
    /// shutdown.
    var isClosing: Bool {
        state.withLock { $0.closing }
    }

    /// Closes every open connection and refuses new ones; every output's close, begun or to come, ends within
    /// `limit` (the shutdown's), even one that began with a longer limit.
    func closeAll(closingOutputsWithin limit: Duration) {
        let (connections, sinks) = state.withLock { state in
            state.closing = true
            return (Array(state.open.values), Array(state.sinks.values))
        }
        for sink in sinks { sink.hurry(within: limit) }
        for connection in connections { connection.close() }
    }
}
