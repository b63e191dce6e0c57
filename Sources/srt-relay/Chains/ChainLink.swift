import Metrics
import Synchronization

/// One push or pull as the operator sees it: where it goes or comes from, whether it is connected now, how often it
/// connected, what it carried, dropped and lost. ``StreamPush`` and ``StreamPull`` update it; the hub holds it for
/// the API (`GET /v1/streams`), the status lines count them, and `/metrics` has the totals by kind (never by stream:
/// any publisher may pick a name, and series must not grow with them).
final class ChainLink: Sendable {
    enum Kind: String, Sendable {
        case push
        case pull
    }

    let kind: Kind
    let stream: String
    /// The listener's address and stream id template, as the relay prints it (never a passphrase).
    let remote: String
    let since = ContinuousClock.now
    private let connected = Atomic(false)
    /// Connections made so far.
    let connects = Atomic(0)
    /// Payload bytes sent (a push) or received (a pull).
    let bytes = Atomic<UInt64>(0)
    /// Whole messages a push dropped from its queue, or lost with a broken connection.
    let lostMessages = Atomic(0)
    /// A push's queue, for what it holds and dropped.
    let queue: ReaderQueue?

    init(kind: Kind, stream: String, remote: String, queue: ReaderQueue? = nil) {
        self.kind = kind
        self.stream = stream
        self.remote = remote
        self.queue = queue
        Self.gauge(kind, connected: false).increment()
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// A connection is up: counted, and the gauges move.
    func noteConnected() {
        connects.add(1, ordering: .relaxed)
        if connects.load(ordering: .relaxed) > 1 {
            Counter(label: "srt_relay_chain_reconnects_total", dimensions: [("kind", kind.rawValue)]).increment()
        }
        setConnected(true)
    }

    func noteBroken() {
        setConnected(false)
    }

    func noteBytes(_ count: Int) {
        bytes.add(UInt64(count), ordering: .relaxed)
        Counter(label: "srt_relay_chain_bytes_total", dimensions: [("kind", kind.rawValue)]).increment(by: Int64(count))
    }

    func noteLost(_ messages: Int) {
        guard messages > 0 else { return }
        lostMessages.add(messages, ordering: .relaxed)
        Counter(label: "srt_relay_chain_lost_messages_total", dimensions: [("kind", kind.rawValue)])
            .increment(by: Int64(messages))
    }

    /// The link ended: it leaves the gauges.
    func end() {
        Self.gauge(kind, connected: connected.exchange(false, ordering: .relaxed)).decrement()
    }

    private func setConnected(_ now: Bool) {
        let before = connected.exchange(now, ordering: .relaxed)
        guard before != now else { return }
        Self.gauge(kind, connected: before).decrement()
        Self.gauge(kind, connected: now).increment()
    }

    /// `srt_relay_chain_links{kind, state}`: the pushes and pulls now, connected or connecting.
    private static func gauge(_ kind: Kind, connected: Bool) -> Meter {
        Meter(
            label: "srt_relay_chain_links",
            dimensions: [("kind", kind.rawValue), ("state", connected ? "connected" : "connecting")])
    }
}
