import SRTAdapter
import Synchronization

/// One stream by name: its publisher, if any, and its readers, each with a ``ReaderQueue``. The publisher's task
/// hands every group of messages to ``deliver(_:at:)``, which appends it to each reader's queue without waiting for
/// any of them.
///
/// A stream exists while it has a publisher or a reader: readers may connect before the publisher, and stay
/// connected while it reconnects; they receive again as soon as it is back.
final class StreamHub: Sendable {
    /// One reader, as the API shows it.
    final class Reader: Sendable {
        let id: Int
        let connection: SRTConnection
        let queue: ReaderQueue
        let since: ContinuousClock.Instant
        /// The relays the reader came through (`x-via=`): the chain a pull of the stream carries on.
        let via: [String]
        /// Payload bytes sent to the reader so far.
        let sentBytes = Atomic<Int>(0)

        init(
            id: Int, connection: SRTConnection, queue: ReaderQueue, since: ContinuousClock.Instant, via: [String] = []
        ) {
            self.id = id
            self.connection = connection
            self.queue = queue
            self.since = since
            self.via = via
        }
    }

    /// The publisher, as the API shows it.
    struct Publisher: Sendable {
        let id: Int
        let connection: SRTConnection
        let since: ContinuousClock.Instant
    }

    private struct State {
        var publisher: Publisher?
        var readers: [Int: Reader] = [:]
        /// The readers as one array, rebuilt when a reader comes or goes: what each delivery walks.
        var list: [Reader] = []
        /// The queues of the stream's pushes to other SRT listeners (``StreamPush``), by push number.
        var pushes: [Int: ReaderQueue] = [:]
        /// A pull from an origin serves the stream (``StreamPull``), connected or not.
        var pulled = false
        /// The stream's pushes and pull, for the API.
        var links: [ObjectIdentifier: ChainLink] = [:]
        /// When the readers sent to directly last had their libsrt drop counts read.
        var droppedLookedAt = ContinuousClock.now
        /// Where the current publisher's stream is recorded, while it is.
        var recording: String?
        /// When the stream last had a publisher come (for the API's uptime).
        var publishedSince: ContinuousClock.Instant?
    }

    let name: String
    private let state = Mutex(State())
    /// Payload bytes received from publishers since the stream appeared.
    let receivedBytes = Atomic<UInt64>(0)
    /// Payload bytes handed to readers' queues since the stream appeared (each reader counted).
    let deliveredBytes = Atomic<UInt64>(0)
    private let meter = Mutex(RateMeter())

    init(name: String) {
        self.name = name
    }

    /// Hands `messages` (whole packets, ``PacketAligner``) to every reader; never waits for one. A reader waiting
    /// with nothing queued is sent to directly, all such readers in one hop to the control thread
    /// (``SRTConnection/offer(_:to:)``); what one does not take, and everything for the others, goes to their queues,
    /// which their own tasks send from. A reader whose queue this ends (too slow) is ended by its own task.
    func deliver(_ messages: [[UInt8]], at now: ContinuousClock.Instant) async {
        guard !messages.isEmpty else { return }
        let (readers, pushes) = state.withLock { ($0.list, $0.pushes.values) }
        // A push's own task sends, through whichever connection its caller has now.
        for queue in pushes { _ = queue.append(messages, at: now) }
        let bytes = messages.reduce(0) { $0 + $1.count }
        var direct: [Reader] = []
        for reader in readers {
            if reader.queue.takesDirectly {
                direct.append(reader)
            } else {
                reader.queue.append(messages, at: now)
            }
        }
        deliveredBytes.add(UInt64(bytes * readers.count), ordering: .relaxed)
        guard !direct.isEmpty else { return }
        let taken = await SRTConnection.offer(messages, to: direct.map(\.connection))
        for (reader, count) in zip(direct, taken) {
            reader.sentBytes.add(messages.prefix(count).reduce(0) { $0 + $1.count }, ordering: .relaxed)
            if count < messages.count { reader.queue.append(Array(messages[count...]), at: now) }
        }
        // Their tasks sleep: their libsrt drop counts are read here, as their tasks would (``StreamReader``).
        let due = state.withLock { state in
            guard now - state.droppedLookedAt >= StreamReader.dropCheckInterval else { return false }
            state.droppedLookedAt = now
            return true
        }
        guard due else { return }
        for reader in direct {
            if let statistics = try? await reader.connection.currentStatistics() {
                reader.queue.noteSenderDrops(statistics.packetsSentDropped, at: now)
            }
        }
    }

    /// The publisher's `messages` (`bytes` of payload), as they arrive: counted, then handed to the readers and
    /// pushes (``deliver(_:at:)``) in whole packets through the publisher's own `aligner`, which starts over while
    /// nobody takes them.
    func publish(_ messages: [[UInt8]], bytes: Int, aligner: inout PacketAligner) async {
        await publish(bytes: bytes, aligner: &aligner) { messages }
    }

    /// ``publish(_:bytes:aligner:)`` of a batch read in one buffer: its messages become arrays of their own only when
    /// someone takes them.
    func publish(_ batch: SRTMessageBatch, bytes: Int, aligner: inout PacketAligner) async {
        await publish(bytes: bytes, aligner: &aligner) { batch.map { Array($0) } }
    }

    private func publish(bytes: Int, aligner: inout PacketAligner, messages: () -> [[UInt8]]) async {
        let now = ContinuousClock.now
        noteReceived(bytes, at: now)
        if hasAudience {
            await deliver(aligner.align(messages()), at: now)
        } else {
            aligner.reset()
        }
    }

    /// Counts `bytes` received from the publisher at `now`.
    private func noteReceived(_ bytes: Int, at now: ContinuousClock.Instant) {
        let total = receivedBytes.add(UInt64(bytes), ordering: .relaxed).newValue
        meter.withLock { $0.record(total, at: now) }
    }

    /// The publisher's bitrate over the last few seconds.
    func bitrate(at now: ContinuousClock.Instant = .now) -> Double {
        let total = receivedBytes.load(ordering: .relaxed)
        return meter.withLock { $0.bitsPerSecond(total, at: now) }
    }

    var publisher: Publisher? {
        state.withLock { $0.publisher }
    }

    var readers: [Reader] {
        state.withLock { Array($0.readers.values) }.sorted { $0.id < $1.id }
    }

    var readerCount: Int {
        state.withLock { $0.readers.count }
    }

    var recording: String? {
        state.withLock { $0.recording }
    }

    /// Publisher `id` records to `path`; ignored once another publisher replaced it.
    func setRecording(_ path: String, of id: Int) {
        state.withLock { state in
            if state.publisher?.id == id { state.recording = path }
        }
    }

    var publishedSince: ContinuousClock.Instant? {
        state.withLock { $0.publishedSince }
    }

    /// Whether the stream has neither publisher, reader nor push, and can be forgotten.
    var isIdle: Bool {
        state.withLock { $0.publisher == nil && $0.readers.isEmpty && $0.pushes.isEmpty && !$0.pulled }
    }

    /// Whether anything takes the publisher's messages besides its sink: a reader or a push.
    var hasAudience: Bool {
        state.withLock { !$0.readers.isEmpty || !$0.pushes.isEmpty }
    }

    /// Whether a pull serves the stream: while it does, the hub stays, so that its readers and the pull meet here.
    var isPulled: Bool {
        get { state.withLock { $0.pulled } }
        set { state.withLock { $0.pulled = newValue } }
    }

    /// The stream's pushes and pull now, pushes first.
    var links: [ChainLink] {
        state.withLock { Array($0.links.values) }.sorted {
            ($0.kind.rawValue, $0.remote) > ($1.kind.rawValue, $1.remote)
        }
    }

    func add(_ link: ChainLink) {
        state.withLock { $0.links[ObjectIdentifier(link)] = link }
    }

    func remove(_ link: ChainLink) {
        _ = state.withLock { $0.links.removeValue(forKey: ObjectIdentifier(link)) }
    }

    /// Push `id` takes the stream's messages in `queue` from now on.
    func attach(push id: Int, queue: ReaderQueue) {
        state.withLock { $0.pushes[id] = queue }
    }

    func detach(push id: Int) {
        _ = state.withLock { $0.pushes.removeValue(forKey: id) }
    }

    /// Makes `publisher` the stream's publisher. With `takeover`, one already there is replaced and returned (the
    /// caller closes it); without, the call fails and returns the one there.
    func claim(_ publisher: Publisher, takeover: Bool) -> (claimed: Bool, other: Publisher?) {
        state.withLock { state in
            if let current = state.publisher, !takeover { return (false, current) }
            let replaced = state.publisher
            state.publisher = publisher
            // The readers and pushes there take the new stream from its start.
            for reader in state.list { reader.queue.startAtNextMessage() }
            for queue in state.pushes.values { queue.startAtNextMessage() }
            state.publishedSince = publisher.since
            state.recording = nil
            return (true, replaced)
        }
    }

    /// `id` is no longer the publisher (it left); a publisher that replaced it meanwhile stays.
    func release(publisher id: Int) {
        state.withLock { state in
            guard state.publisher?.id == id else { return }
            state.publisher = nil
            state.recording = nil
        }
    }

    /// Adds `reader` unless the stream has `limit` readers already.
    func add(_ reader: Reader, limit: Int) -> Bool {
        state.withLock { state in
            guard state.readers.count < limit else { return false }
            state.readers[reader.id] = reader
            state.list.append(reader)
            return true
        }
    }

    func remove(reader id: Int) {
        state.withLock { state in
            guard state.readers.removeValue(forKey: id) != nil else { return }
            state.list.removeAll { $0.id == id }
        }
    }
}
