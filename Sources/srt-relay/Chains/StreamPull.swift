import Logging
import SRTAdapter
import Supervisor
import Synchronization

/// Pulls one stream from another SRT listener (an origin) for this relay's readers (edge mode), through a supervised
/// ``SRTCaller``: each connection it makes becomes the stream's publisher, and what it receives goes to the readers
/// as a local publisher's would. When the origin goes away the readers stay connected; the caller reconnects with
/// backoff and jitter, and the readers take the stream again from the next message once it is back.
///
/// It ends when the stream has had no reader for ``StreamSettings/pullLinger``, when a local publisher has the
/// stream, when its caller gives up (a wrong passphrase, a stream id the origin forbids), or when the relay stops.
struct StreamPull: Sendable {
    let name: String
    let rule: PushRule
    /// The relays its first reader came through (an edge of an edge): the pull carries them on.
    let via: [String]
    let hub: StreamHub
    let hubs: StreamHubs
    let table: ConnectionTable
    let streams: StreamSettings
    let console: Console
    let logger: Logger

    enum Ending: Sendable {
        case unread
        case locallyPublished(Int)
        /// `looped`: the origin refused the chain carried (``RelayIdentity/loopDetected``).
        case gaveUp(String, looped: Bool = false)
        case stopped

        /// Whether readers that the stream still has may start the pull again: unless it gave up or the relay stops.
        var mayResume: Bool {
            switch self {
            case .unread, .locallyPublished: true
            case .gaveUp, .stopped: false
            }
        }
    }

    /// Pulls until the stream is done with; returns why it ended.
    @discardableResult
    func run() async -> Ending {
        let link = ChainLink(kind: .pull, stream: name, remote: "\(rule)")
        hub.add(link)
        defer {
            hub.remove(link)
            link.end()
            hub.isPulled = false
            hubs.forgetIfIdle(name)
        }
        let configuration: SRTCallerConfiguration
        // The call that tells a dead connection from a quiet path waits no longer than the stall it follows: an origin
        // that is up answers within two round trips.
        let probe: SRTCallerConfiguration?
        do {
            configuration = try rule.configuration(for: name, identity: streams.identity, via: via)
            probe = try streams.pullStall.map { try rule.probeConfiguration(connectTimeout: $0) }
        } catch {
            console.emit(
                "pull-ended", "← \(name) from \(rule): \(error)",
                ["stream": .string(name), "from": .string("\(rule)"), "reason": .string("\(error)")])
            return .gaveUp("\(error)")
        }
        let caller = SRTCaller(
            configuration: configuration, name: "pull \(name)", policy: RelayIdentity.callerPolicy, logger: logger)
        emit("pull-started", "← \(name) pulled from \(rule) for its readers")
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    try await caller.run()
                    return .stopped
                } catch {
                    // Stopped by the tree (cancellation), or a failure retrying cannot fix.
                    let failure = (error as? SupervisorError)?.lastFailure ?? error
                    let looped = (failure as? SRTError)?.rejectReason == RelayIdentity.loopDetected.code
                    return Task.isCancelled ? .stopped : .gaveUp(StreamPush.reason(error), looped: looped)
                }
            }
            group.addTask {
                for await connection in caller.connections {
                    if let other = await receive(from: connection, link: link, probe: probe) {
                        return .locallyPublished(other)
                    }
                }
                return nil
            }
            group.addTask {
                await Linger.idle(for: streams.pullLinger) { hub.readerCount == 0 } ? .unread : nil
            }
            var ending = Ending.stopped
            while let next = await group.next() {
                if let next {
                    ending = next
                    break
                }
            }
            group.cancelAll()
            return ending
        }
        let reason: String
        switch ending {
        case .unread: reason = "no reader for \(Units.duration(streams.pullLinger))"
        case .locallyPublished(let id): reason = "published here (connection \(id))"
        case .gaveUp(let why, _): reason = "gave up: \(why)"
        case .stopped: reason = "shutdown"
        }
        let received = link.bytes.load(ordering: .relaxed)
        console.emit(
            "pull-ended", "← \(name) from \(rule) ended: \(Units.bytes(received)) received, \(reason)",
            [
                "stream": .string(name), "from": .string("\(rule)"), "bytes": .int(Int64(clamping: received)),
                "connects": .int(Int64(link.connects.load(ordering: .relaxed))), "reason": .string(reason),
            ])
        return ending
    }

    /// Serves the stream's readers from `connection` until it breaks. Returns the connection id of a local publisher
    /// that has the stream (the pull then ends), or `nil`.
    private func receive(
        from connection: SRTConnection, link: ChainLink, probe: SRTCallerConfiguration?
    ) async -> Int? {
        // In the table, the connection shows in the API and the status lines, and the shutdown closes it.
        guard let id = table.add(connection) else {
            connection.close()
            return nil
        }
        defer {
            connection.close()
            table.remove(connection)
            // A local publisher with --takeover marks the connection it replaced: this one.
            hubs.forgetMarks(id)
        }
        let (claimed, other) = hub.claim(.init(id: id, connection: connection, since: .now), takeover: false)
        guard claimed else { return other?.id ?? 0 }
        defer { hub.release(publisher: id) }
        link.noteConnected()
        defer { link.noteBroken() }
        let count = link.connects.load(ordering: .relaxed)
        emit("pull-connected", "← \(name) connected to \(rule)" + (count > 1 ? " (again, #\(count))" : ""))
        await withTaskGroup(of: Void.self) { group in
            if let limit = streams.pullStall, let probe {
                group.addTask { await replaceIfSilent(connection, after: limit, probe: probe, link: link) }
            }
            var aligner = PacketAligner()
            do {
                while true {
                    let messages = try await connection.receiveAvailable()
                    let bytes = messages.reduce(0) { $0 + $1.count }
                    link.noteBytes(bytes)
                    table.countReceived(bytes)
                    await hub.publish(messages, bytes: bytes, aligner: &aligner)
                }
            } catch {
                // The caller is reconnecting already (or the relay stops); the readers wait for the next connection.
                emit("pull-broken", "← \(name) from \(rule): connection broke: \(error)")
            }
            group.cancelAll()
        }
        return nil
    }

    /// Closes `connection` (the caller then connects again after its backoff) once the stream has stopped arriving
    /// on it for `limit` after it flowed, the origin does not acknowledge a message sent on it, and a new call to the
    /// origin is answered: the origin restarted or moved, or the path lost its state. An origin that acknowledges is
    /// alive with nothing to send (its publisher paused or left), and a new call that nobody answers means the path is
    /// down: either way the connection is kept, since SRT carries on over it once there is something to carry, and
    /// libsrt's silent-peer timeout ends it if the origin is gone for good. Each time the stream flows and stops
    /// again, one more look.
    private func replaceIfSilent(
        _ connection: SRTConnection, after limit: Duration, probe configuration: SRTCallerConfiguration,
        link: ChainLink
    ) async {
        // An acknowledgement takes a round trip and libsrt's 10 ms acknowledgement interval: the limit is meant to
        // exceed two round trips.
        let answer = limit / 2
        while await StallWatch.stalled(after: limit, { link.bytes.load(ordering: .relaxed) }) {
            if Task.isCancelled || connection.isClosed { return }
            if await StallWatch.acknowledges(connection, within: answer) {
                stalled(limit, "the origin acknowledges, with nothing to send; the connection is kept", "keep")
                continue
            }
            let stillHeard = { await StallWatch.acknowledges(connection, within: answer) }
            switch await StallWatch.judge(connection, probe: configuration, stillHeard: stillHeard) {
            case nil:
                return
            case .keep(let why):
                stalled(limit, "the origin is silent; \(why)", "keep")
            case .reconnect:
                stalled(limit, "the origin is silent but answers a new call; connecting again", "reconnect")
                // The receive ends with it, and the caller connects again after its backoff.
                connection.close()
                return
            }
        }
    }

    private func stalled(_ limit: Duration, _ what: String, _ action: String) {
        console.emit(
            "pull-stalled", "← \(name) from \(rule): nothing for \(Units.duration(limit)); \(what)",
            ["stream": .string(name), "from": .string("\(rule)"), "action": .string(action)])
    }

    private func emit(_ event: String, _ text: String) {
        console.emit(event, text, ["stream": .string(name), "from": .string("\(rule)")])
    }
}
