import SRTAdapter
import Synchronization

/// Serves one reader: joins its stream's ``StreamHub`` (made if the stream has no publisher yet), sends what its
/// ``ReaderQueue`` holds until the reader leaves, is too slow, or the relay stops; prints a line when it opens and
/// closes.
///
/// Two tasks: one sends, the other waits on the connection's receive side, which is how a reader that leaves (or
/// breaks) is noticed while its stream has no publisher and nothing is sent.
struct StreamReader: Sendable {
    let table: ConnectionTable
    let console: Console
    let access: StreamAccess
    /// Told of every reader that joins: a stream nobody publishes here may be pulled from an origin.
    var pulls: StreamPulls?
    var hubs: StreamHubs { access.hubs }
    var streams: StreamSettings { access.streams }

    /// How often a reader's libsrt drop count is read while it is sent to.
    static let dropCheckInterval = Duration.milliseconds(250)

    func serve(_ connection: SRTConnection, id: Int, request: StreamRequest, peer: String) async {
        let started = ContinuousClock.now
        let queue = ReaderQueue(limits: streams.readerQueue, joinedAt: started)
        let reader = StreamHub.Reader(
            id: id, connection: connection, queue: queue, since: started, via: request.via)
        let limit = access.maxReaders(of: request.name)
        let (hub, added) = hubs.withHub(named: request.name) { hub in (hub, hub.add(reader, limit: limit)) }
        guard added else {
            hubs.forgetIfIdle(request.name)
            console.emit(
                "connection-refused", "✗ \(request.shownName) from \(peer): \(limit) readers already",
                [
                    "stream_id": .string(connection.streamID), "peer": .string(peer),
                    "error": .string("too many readers"),
                ])
            connection.close()
            return
        }
        defer {
            hub.remove(reader: id)
            hubs.forgetIfIdle(request.name)
        }
        pulls?.wanted(request.name, in: hub, via: request.via)
        let publisher = hub.publisher != nil ? "" : hub.isPulled ? " (pulled)" : " (waiting for a publisher)"
        console.emit(
            "connection-opened", "+ \(request.shownName) to \(peer) (reader)\(publisher)",
            [
                "stream_id": .string(connection.streamID), "peer": .string(peer), "role": .string("read"),
                "stream": .string(request.name), "id": .int(Int64(id)),
            ])
        let failure: (any Error)? = await withTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                // A reader sends nothing: this returns when it leaves or breaks, or the connection is closed here.
                do {
                    while true { _ = try await connection.receiveAvailable() }
                } catch {
                    queue.close()
                    return error
                }
            }
            group.addTask {
                do {
                    var looked = ContinuousClock.now
                    while let messages = await queue.next() {
                        try await connection.send(contentsOf: messages)
                        reader.sentBytes.add(messages.reduce(0) { $0 + $1.count }, ordering: .relaxed)
                        // libsrt drops what a stalled reader does not acknowledge in time: a look now and then.
                        let now = ContinuousClock.now
                        guard now - looked >= Self.dropCheckInterval else { continue }
                        looked = now
                        if let statistics = try? await connection.currentStatistics() {
                            queue.noteSenderDrops(statistics.packetsSentDropped, at: now)
                        }
                    }
                    return nil
                } catch {
                    queue.close()
                    return error
                }
            }
            let first = await group.next() ?? nil
            // Either side's end ends the reader: the other is woken by the close.
            queue.close()
            connection.close()
            let second = await group.next() ?? nil
            return first ?? second
        }
        let report = queue.report
        let reason: String
        switch (report.ending, failure) {
        case (.tooSlow?, _):
            reason = "too slow: dropping for over \(Units.duration(streams.readerQueue.slowLimit))"
        case (_, let error as SRTError) where error.code == .closedLocally:
            // Closed here: through the API, by the shutdown, or with a listener whose UDP socket died.
            reason =
                hubs.takeKicked(id)
                ? "disconnected through the API" : table.isClosing ? "shutdown" : "lost with the listener's UDP socket"
        case (_, let error as SRTError) where error.isPerConnection:
            reason = "reader left (\(error.code))"
        case (_, let error?):
            reason = "\(error)"
        case (_, nil):
            reason = table.isClosing ? "shutdown" : "closed"
        }
        let duration = ContinuousClock.now - started
        let dropped = report.droppedBytes / TransportStream.packetSize
        var drops = dropped > 0 ? ", \(dropped) packets dropped behind" : ""
        if report.droppedBySender > 0 { drops += ", \(report.droppedBySender) messages dropped by libsrt as too late" }
        console.emit(
            "connection-closed",
            "- \(request.shownName) to \(peer) (reader): \(Units.bytes(UInt64(reader.sentBytes.load(ordering: .relaxed)))) in \(Units.duration(duration))"
                + "\(drops), \(reason)",
            [
                "stream_id": .string(connection.streamID), "peer": .string(peer), "role": .string("read"),
                "stream": .string(request.name), "id": .int(Int64(id)),
                "bytes": .int(Int64(reader.sentBytes.load(ordering: .relaxed))),
                "duration_s": .double(Units.roundedSeconds(duration)), "dropped_packets": .int(Int64(dropped)),
                "sender_dropped_messages": .int(Int64(report.droppedBySender)), "reason": .string(reason),
            ])
    }
}
