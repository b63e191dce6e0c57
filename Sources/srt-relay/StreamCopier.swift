import Metrics
import SRTAdapter
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Serves one connection until it ends: a publisher's messages go to its stream's readers (``StreamHub``) and to a
/// ``StreamSink`` (a recording, when the stream is recorded, or a UDP forward); a reader gets its stream
/// (``StreamReader``). Each connection is served by its own child of the relay's `streams` group (``StreamAcceptor``
/// adds them); prints a line when each opens and closes.
struct StreamCopier: Sendable {
    let server: SRTServer
    let destination: RelaySettings.Destination
    let table: ConnectionTable
    let console: Console
    var recording = RecordingOptions()
    /// The handshake's decisions, the streams by name and their settings.
    var access = StreamAccess(hubs: StreamHubs(), streams: StreamSettings())
    /// The pushes to other listeners (`--push`), told of every publisher.
    var pushes: StreamPushes?
    /// The pulls from origins (`--pull`), told of every reader.
    var pulls: StreamPulls?
    var hubs: StreamHubs { access.hubs }
    var streams: StreamSettings { access.streams }

    /// How long a recording that ends may still wait for its disk (a full one that may clear) before the rest is
    /// given up…
    static let closeLimit = Duration.seconds(10)
    /// …and during the shutdown, which must end within 2 s.
    static let shutdownCloseLimit = Duration.milliseconds(500)

    /// Serves `connection` (number `id` in the table) until it ends. `connection` is in the ``ConnectionTable``
    /// already; it leaves it here.
    func serve(_ connection: SRTConnection, id: Int) async {
        defer {
            hubs.forgetMarks(id)
            table.remove(connection)
        }
        let peer = connection.peerAddress.map { "\($0)" } ?? "?"
        let request: StreamRequest
        do {
            request = try StreamRequest(parsing: connection.streamID)
        } catch {
            // The access control refused it already; one that slipped through is refused here.
            refuse(connection, name: connection.streamID, peer: peer, because: "\(error)")
            return
        }
        switch request.role {
        case .read:
            await StreamReader(table: table, console: console, access: access, pulls: pulls)
                .serve(connection, id: id, request: request, peer: peer)
        case .publish:
            await publish(connection, id: id, request: request, peer: peer)
        }
    }

    private func refuse(_ connection: SRTConnection, name: String, peer: String, because reason: String) {
        console.emit(
            "connection-refused", "✗ \(name.isEmpty ? "(no stream id)" : name) from \(peer): \(reason)",
            ["stream_id": .string(connection.streamID), "peer": .string(peer), "error": .string(reason)])
        connection.close()
    }

    /// Copies a publisher's messages to its stream's readers and its sink until it ends; then closes both and prints
    /// the summary.
    private func publish(_ connection: SRTConnection, id: Int, request: StreamRequest, peer: String) async {
        let started = ContinuousClock.now
        let name = request.shownName
        // A forwarding relay carries one publisher at a time; the access control turned away most others already
        // (1409), this catches one that was accepted in the same instant.
        if case .forward(let target, let slot) = destination {
            guard slot.claim(connection) else {
                refuse(
                    connection, name: request.name, peer: peer, because: "\(target) carries another publisher's stream")
                return
            }
        }
        // After the sink's close below: the next publisher never overlaps this one.
        defer { if case .forward(_, let slot) = destination { slot.release(connection) } }
        // One publisher per stream: a second is refused, or replaces the first with --takeover.
        let (claimed, other) = hubs.withHub(named: request.name) { hub in
            (hub, hub.claim(.init(id: id, connection: connection, since: started), takeover: streams.takeover))
        }
        let hub = claimed
        guard other.claimed else {
            refuse(
                connection, name: request.name, peer: peer,
                because: "the stream has a publisher (connection \(other.other?.id ?? 0))")
            hubs.forgetIfIdle(request.name)
            return
        }
        if let replaced = other.other {
            hubs.markReplaced(replaced.id)
            replaced.connection.close()
        }
        pushes?.published(request.name, in: hub, via: request.via)
        defer {
            hub.release(publisher: id)
            // Readers left waiting (a publisher here ends the stream's pull): the stream is pulled for them again.
            if let reader = hub.readers.first { pulls?.wanted(request.name, in: hub, via: reader.via) }
            hubs.forgetIfIdle(request.name)
        }
        let sink: (any StreamSink)?
        do {
            sink = try await makeSink(for: connection, request: request, peer: peer)
        } catch {
            refuse(connection, name: request.name, peer: peer, because: "\(error)")
            return
        }
        if let sink {
            table.attach(sink, to: connection, closingWithin: Self.shutdownCloseLimit)
            if case .record = destination { hub.setRecording(sink.destination, of: id) }
        }
        let readers = hub.readerCount
        let audience = readers > 0 ? " (\(readers) reader\(readers == 1 ? "" : "s") waiting)" : ""
        console.emit(
            "connection-opened", "+ \(name) from \(peer) → \(sink?.destination ?? "readers only")\(audience)",
            [
                "stream_id": .string(connection.streamID), "peer": .string(peer), "role": .string("publish"),
                "stream": .string(request.name), "to": .string(sink?.destination ?? "readers"), "id": .int(Int64(id)),
            ])
        var bytes: UInt64 = 0
        var reason = "publisher left"
        // An output that failed is given up at once when closed: waiting for it would only delay the line.
        var outputFailed = false
        var aligner = PacketAligner()
        do {
            while true {
                // In one buffer: a recording copies it whole, with no allocation per message.
                let batch = try await connection.receiveBatch()
                let received = batch.bytes.count
                table.countReceived(received)
                // Readers first: a failing output ends the publisher, and what it sent last still reaches them.
                await hub.publish(batch, bytes: received, aligner: &aligner)
                guard let sink else {
                    bytes += UInt64(received)
                    continue
                }
                // What the output took: the summary's bytes, the messages before a refused one included.
                var taken = 0
                defer { bytes += UInt64(taken) }
                try sink.write(contentsOf: batch, taken: &taken)
            }
        } catch let error as SRTError where error.code == .closedLocally {
            // Closed here: by a newer publisher, the shutdown, or with a listener whose UDP socket died.
            reason =
                hubs.takeReplaced(id)
                ? "replaced by a new publisher"
                : hubs.takeKicked(id)
                    ? "disconnected through the API"
                    : table.isClosing ? "shutdown" : "lost with the listener's UDP socket"
        } catch let error as SinkError where error.kind == .lowSpace {
            reason = error.detail ?? "\(error)"
            outputFailed = true
            table.countOutputFailure("disk-space")
        } catch let error as SinkError {
            reason = "output failed: \(error)"
            outputFailed = true
            table.countOutputFailure("write")
        } catch is CancellationError {
            reason = "shutdown"
        } catch let error as SRTError where error.isPerConnection {
            reason = "publisher left (\(error.code))"
        } catch {
            reason = "\(error)"
        }
        // Holes the relay never saw: live mode skips what the latency could not bring in time (libsrt counts them).
        let dropped = (try? await connection.currentStatistics().packetsReceivedDropped) ?? 0
        if dropped > 0 { table.countDroppedPackets(dropped) }
        connection.close()
        do {
            try await sink?.close(
                within: table.isClosing || outputFailed ? Self.shutdownCloseLimit : Self.closeLimit)
        } catch {
            reason += "; closing the output failed: \(error)"
            // Bytes given up at the end count once (a failed fsync or close was counted when it was reported).
            if !outputFailed, error.operation.hasPrefix("write") { table.countOutputFailure("write") }
        }
        let duration = ContinuousClock.now - started
        let bitrate = Units.bitsPerSecond(bytes, over: duration)
        let holes = dropped > 0 ? ", \(dropped) packet\(dropped == 1 ? "" : "s") dropped as too late" : ""
        console.emit(
            "connection-closed",
            "- \(name) from \(peer): \(Units.bytes(bytes)) in \(Units.duration(duration)) "
                + "(\(Units.bitrate(bitrate)))\(holes), \(reason)",
            [
                "stream_id": .string(connection.streamID), "peer": .string(peer), "role": .string("publish"),
                "stream": .string(request.name), "to": .string(sink?.destination ?? "readers"),
                "id": .int(Int64(id)), "bytes": .int(Int64(bytes)),
                "duration_s": .double(Units.roundedSeconds(duration)),
                "bitrate_bps": .double(bitrate.rounded()), "dropped_packets": .int(Int64(dropped)),
                "reason": .string(reason),
                "segments": .int(Int64((sink as? FileRecorder)?.segments ?? 1)),
            ])
    }

    /// The publisher's recording or forward; `nil` when its stream is served to readers only (`--record`).
    private func makeSink(
        for connection: SRTConnection, request: StreamRequest, peer: String
    ) async throws(SinkError) -> (any StreamSink)? {
        if case .record = destination, !access.records(request.name) { return nil }
        // A file or a socket per stream: never one of the last descriptors, whose loss kills a Swift process
        // (libdispatch, Docs/srt-fault-model.md F). The publisher is refused instead, and the relay lives.
        guard SRTRuntime.hasDescriptorHeadroom else {
            throw SinkError(
                operation: "open the output (fewer than \(SRTRuntime.reservedDescriptors + 1) descriptors free)",
                errno: EMFILE)
        }
        switch destination {
        case .record(let directory):
            // Accepted in the instant space ran low: refused like the next ones.
            if let space = recording.space, space.isLow { throw space.lowSpaceError() }
            let time = Timestamp.now().compact
            let streamID = request.name
            let (console, table) = (self.console, self.table)
            return try await FileRecorder.create(
                in: directory, options: recording,
                name: { counter, segment in
                    RecordingName.make(streamID: streamID, peer: peer, time: time, counter: counter, segment: segment)
                },
                report: { event in Self.report(event, of: streamID, console: console, table: table) })
        case .forward(let target, _):
            return try UDPForwarder(to: target)
        }
    }

    /// A line, and a count, for what a recorder tells while it records.
    private static func report(_ event: RecordingEvent, of streamID: String, console: Console, table: ConnectionTable) {
        switch event {
        case .retrying(let error, let held):
            table.writeRetries.add(1, ordering: .relaxed)
            console.emit(
                "output-retrying", "! \(error); holding \(Units.bytes(UInt64(held))) in memory and retrying",
                [
                    "stream_id": .string(streamID), "error": .string("\(error)"), "errno": .int(Int64(error.errno)),
                    "held_bytes": .int(Int64(held)),
                ])
        case .recovered(let failedFor, let retries):
            console.emit(
                "output-recovered",
                "! \(streamID.isEmpty ? "(no stream id)" : streamID): writing again after \(Units.duration(failedFor)) "
                    + "(\(retries) retr\(retries == 1 ? "y" : "ies"))",
                [
                    "stream_id": .string(streamID), "failed_s": .double(Units.roundedSeconds(failedFor)),
                    "retries": .int(Int64(retries)),
                ])
        case .segmentOpened(let path, let index):
            console.emit(
                "segment", "  \(streamID.isEmpty ? "(no stream id)" : streamID) → \(path) (segment \(index))",
                ["stream_id": .string(streamID), "to": .string(path), "segment": .int(Int64(index))])
        case .outputError(let error):
            table.countOutputFailure(error.operation.hasPrefix("fsync") ? "fsync" : "close")
            console.emit(
                "output-error", "! \(error)",
                ["stream_id": .string(streamID), "error": .string("\(error)"), "errno": .int(Int64(error.errno))])
        }
    }
}
