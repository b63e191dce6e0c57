import DequeModule
import Synchronization

/// One reader's messages on their way out: the publisher's task appends without ever waiting, the reader's task
/// takes them in groups and sends them. Bounded in bytes; when the reader falls behind, the oldest messages go
/// first (whole messages, so whole 188-byte packets of a transport stream), and a reader that keeps dropping (with
/// gaps of at most ``quietGap``) for longer than its limit is ended (``Ending/tooSlow``); libsrt's own drops in the
/// reader's send buffer count too (``noteSenderDrops(_:at:)``). The publisher and the other readers never wait for it.
///
/// A reader that joins mid-stream starts at a message boundary, and for a transport stream at the next program
/// association table when one comes within ``patWait``, so that a decoder can start at once. A reader there when a
/// publisher begins gets the stream from its first byte (``startAtNextMessage()``).
///
/// ```swift
/// let queue = ReaderQueue(limits: .init(maxBytes: 2 << 20, slowLimit: .seconds(5)))
/// queue.append(messages, at: .now)          // the publisher's task: never waits
/// while let group = await queue.next() {    // the reader's task: nil once the queue ended
///     try await connection.send(contentsOf: group)
/// }
/// ```
final class ReaderQueue: Sendable {
    struct Limits: Sendable, Hashable {
        /// The most bytes held for the reader.
        var maxBytes: Int
        /// How long a reader may keep dropping before it is ended.
        var slowLimit: Duration
    }

    /// Why the queue ended.
    enum Ending: Sendable, Hashable, CustomStringConvertible {
        /// The reader dropped messages for longer than its limit: packets this queue dropped, and messages libsrt
        /// dropped in the connection's send buffer.
        case tooSlow(droppedPackets: Int, droppedBySender: Int)
        /// Ended from outside (the reader left, was kicked, or the relay stops).
        case closed

        var description: String {
            switch self {
            case .tooSlow(let dropped, let bySender):
                "too slow: \(dropped) packets dropped behind, \(bySender) messages dropped by libsrt as too late"
            case .closed: "closed"
            }
        }
    }

    /// How long a joining reader waits for a program association table before it starts at the next message anyway.
    static let patWait = Duration.seconds(2)
    /// A run of drops ends after this long without one: a reader that keeps dropping at least this often, for
    /// longer than its limit, is too slow.
    static let quietGap = Duration.seconds(1)
    /// The most messages handed out by one ``next()``.
    static let maxGroup = 256

    private struct State {
        var messages = Deque<[UInt8]>()
        var bytes = 0
        /// When the reader joined; `nil` once its first message was taken in.
        var joining: ContinuousClock.Instant?
        var waiter: CheckedContinuation<[[UInt8]]?, Never>?
        var ending: Ending?
        /// The start of the current run of drops, and its last drop: the run ends after ``quietGap`` without one.
        var droppingSince: ContinuousClock.Instant?
        var lastDrop: ContinuousClock.Instant?
        var droppedBytes = 0
        var droppedMessages = 0
        /// Bytes still queued when the queue was closed: never sent, never dropped.
        var discardedBytes = 0
        /// Messages libsrt dropped in the reader's send buffer, as last told (``noteSenderDrops(_:at:)``).
        var senderDrops = 0
        /// The reader's task holds a group it is sending (from ``next()`` until it asks again).
        var sending = false
    }

    let limits: Limits
    private let state: Mutex<State>

    init(limits: Limits, joinedAt now: ContinuousClock.Instant = .now) {
        self.limits = limits
        var state = State()
        state.joining = now
        self.state = Mutex(state)
    }

    /// Appends what the publisher sent. Returns the ending when this append ended the queue (the reader was too slow
    /// for too long); the caller closes the reader's connection.
    @discardableResult
    func append(_ messages: [[UInt8]], at now: ContinuousClock.Instant) -> Ending? {
        let (waiter, group, ended) = state.withLock {
            state -> (CheckedContinuation<[[UInt8]]?, Never>?, [[UInt8]], Ending?) in
            guard state.ending == nil else { return (nil, [], nil) }
            var start = messages.startIndex
            if let joined = state.joining {
                guard let found = Self.joinPoint(in: messages, joinedAt: joined, now: now) else {
                    return (nil, [], nil)
                }
                state.joining = nil
                start = found.index
                if found.offset > 0 {
                    state.messages.append(Array(messages[found.index][found.offset...]))
                    state.bytes += messages[found.index].count - found.offset
                    start += 1
                }
            }
            for message in messages[start...] {
                state.messages.append(message)
                state.bytes += message.count
            }
            while state.bytes > limits.maxBytes, let oldest = state.messages.popFirst() {
                state.bytes -= oldest.count
                state.droppedBytes += oldest.count
                state.droppedMessages += 1
                Self.noteDrop(&state, at: now)
            }
            if let ending = Self.endIfTooSlow(&state, limits: limits, at: now) {
                defer { state.waiter = nil }
                return (state.waiter, [], ending)
            }
            guard let waiter = state.waiter, !state.messages.isEmpty else { return (nil, [], nil) }
            state.waiter = nil
            return (waiter, Self.take(&state), nil)
        }
        waiter?.resume(returning: ended == nil ? group : nil)
        return ended
    }

    /// Tells the queue how many messages libsrt dropped so far on the reader's connection as too late to send: a
    /// reader that stopped reading or acknowledging loses its messages there, in libsrt's send buffer, before this
    /// queue ever fills. Drops seen at every look count as falling behind, as the queue's own do; a look with no new
    /// drop and an empty queue ends the run. Returns the ending when this ended the queue (too slow).
    @discardableResult
    func noteSenderDrops(_ total: Int, at now: ContinuousClock.Instant) -> Ending? {
        let (waiter, ending) = state.withLock { state -> (CheckedContinuation<[[UInt8]]?, Never>?, Ending?) in
            guard state.ending == nil else { return (nil, nil) }
            if total > state.senderDrops {
                state.senderDrops = total
                Self.noteDrop(&state, at: now)
            }
            guard let ending = Self.endIfTooSlow(&state, limits: limits, at: now) else { return (nil, nil) }
            defer { state.waiter = nil }
            return (state.waiter, ending)
        }
        waiter?.resume(returning: nil)
        return ending
    }

    /// A drop now: it continues the current run of drops, or starts one after ``quietGap`` without any.
    private static func noteDrop(_ state: inout State, at now: ContinuousClock.Instant) {
        if state.droppingSince == nil || state.lastDrop.map({ now - $0 > quietGap }) ?? true {
            state.droppingSince = now
        }
        state.lastDrop = now
    }

    /// Ends the queue when its current run of drops is longer than the limit.
    private static func endIfTooSlow(_ state: inout State, limits: Limits, at now: ContinuousClock.Instant) -> Ending? {
        guard let since = state.droppingSince, let last = state.lastDrop, now - last <= quietGap,
            now - since > limits.slowLimit
        else { return nil }
        let ending = Ending.tooSlow(
            droppedPackets: state.droppedBytes / TransportStream.packetSize, droppedBySender: state.senderDrops)
        state.ending = ending
        state.messages.removeAll()
        state.bytes = 0
        return ending
    }

    /// Where a joining reader starts in `messages`: the message, and the offset in it, of the first program
    /// association table; at the first message when the stream is not whole transport stream packets, or once
    /// ``patWait`` passed; `nil` to keep waiting.
    private static func joinPoint(
        in messages: [[UInt8]], joinedAt joined: ContinuousClock.Instant, now: ContinuousClock.Instant
    ) -> (index: Int, offset: Int)? {
        for (index, message) in messages.enumerated() {
            guard TransportStream.isWholePackets(message) else { return (index, 0) }
            if let offset = TransportStream.programAssociationOffset(in: message) { return (index, offset) }
        }
        return now - joined > patWait && !messages.isEmpty ? (0, 0) : nil
    }

    /// A publisher begins its stream: the reader takes it from its first byte, with no table to wait for.
    func startAtNextMessage() {
        state.withLock { $0.joining = nil }
    }

    /// Whether the publisher may send to the reader directly, bypassing this queue (``SRTConnection/offer(_:to:)``):
    /// only while the reader has joined, nothing waits here, and its task waits in ``next()`` with nothing in hand, so
    /// that what is sent directly can never overtake what is queued. Called by the publisher's task, the only one that
    /// appends, so the answer holds until its next append.
    var takesDirectly: Bool {
        state.withLock {
            $0.ending == nil && $0.joining == nil && $0.messages.isEmpty && !$0.sending && $0.waiter != nil
        }
    }

    /// The next group of messages, waiting for one; `nil` once the queue ended. One task at a time.
    func next() async -> [[UInt8]]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[[UInt8]]?, Never>) in
                let group = state.withLock { state -> [[UInt8]]?? in
                    state.sending = false
                    if state.ending != nil { return .some(nil) }
                    if !state.messages.isEmpty { return .some(Self.take(&state)) }
                    state.waiter = continuation
                    return nil
                }
                if let group { continuation.resume(returning: group) }
            }
        } onCancel: {
            close()
        }
    }

    private static func take(_ state: inout State) -> [[UInt8]] {
        state.sending = true
        let count = min(maxGroup, state.messages.count)
        let group = Array(state.messages.prefix(count))
        state.messages.removeFirst(count)
        state.bytes -= group.reduce(0) { $0 + $1.count }
        return group
    }

    /// Ends the queue; a waiting ``next()`` returns `nil`. Idempotent.
    func close() {
        let waiter = state.withLock { state -> CheckedContinuation<[[UInt8]]?, Never>? in
            if state.ending == nil { state.ending = .closed }
            state.discardedBytes += state.bytes
            state.messages.removeAll()
            state.bytes = 0
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The bytes that were still queued when the queue was closed.
    var discardedBytes: Int {
        state.withLock { $0.discardedBytes }
    }

    /// What was dropped so far, and why the queue ended (`nil` while it runs).
    var report: (droppedMessages: Int, droppedBytes: Int, droppedBySender: Int, queuedBytes: Int, ending: Ending?) {
        state.withLock { ($0.droppedMessages, $0.droppedBytes, $0.senderDrops, $0.bytes, $0.ending) }
    }
}
