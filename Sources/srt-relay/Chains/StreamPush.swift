import Logging
import SRTAdapter
import Supervisor
import Synchronization

/// Sends one stream on to another SRT listener through a supervised ``SRTCaller``: it takes the stream's messages in
/// a ``ReaderQueue`` of its own (bounded, the oldest whole packets dropped first), so that neither the publisher nor
/// the local readers ever wait for it, and sends them through whichever connection the caller has, reconnecting with
/// the caller's backoff and jitter when it breaks. A reject that retrying cannot fix (a wrong passphrase, a stream id
/// the listener forbids) ends the push with a line saying so.
///
/// It ends when the stream has been without a publisher for ``StreamSettings/pushLinger``, when its caller gives up,
/// or when the relay stops.
struct StreamPush: Sendable {
    let name: String
    let rule: PushRule
    /// Its number, for the lines.
    let id: Int
    /// The relays the stream came through before this one (its publisher's `x-via`).
    let via: [String]
    /// What the push did, for the API, the status lines and the metrics; in the hub already.
    let link: ChainLink
    /// Its queue, attached to `hub` already (``StreamPushes/published(_:in:via:)``); detached when the push ends.
    let queue: ReaderQueue
    let hub: StreamHub
    let hubs: StreamHubs
    let streams: StreamSettings
    let console: Console
    let logger: Logger

    /// What ended a push, for its last line.
    private enum Ending: Sendable {
        case unpublished
        case gaveUp(String)
        case stopped
    }

    func run() async {
        defer {
            queue.close()
            hub.detach(push: id)
            hub.remove(link)
            link.end()
            hubs.forgetIfIdle(name)
        }
        let configuration: SRTCallerConfiguration
        // The call that tells a dead listener from a quiet path waits no longer than the stall it follows.
        let probe: SRTCallerConfiguration?
        do {
            configuration = try rule.configuration(for: name, identity: streams.identity, via: via)
            probe = try streams.pushStall.map { try rule.probeConfiguration(connectTimeout: $0) }
        } catch {
            emit("push-failed", "✗ push of \(name) to \(rule): \(error)", reason: "\(error)")
            return
        }
        let caller = SRTCaller(
            configuration: configuration, name: "push \(name) #\(id)", policy: RelayIdentity.callerPolicy,
            logger: logger)
        emit("push-started", "→ \(name) pushed to \(rule)", reason: nil)
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    try await caller.run()
                    return .stopped
                } catch {
                    // Stopped by the tree (cancellation), or a failure retrying cannot fix.
                    return Task.isCancelled ? .stopped : .gaveUp(Self.reason(error))
                }
            }
            group.addTask {
                for await connection in caller.connections {
                    link.noteConnected()
                    let count = link.connects.load(ordering: .relaxed)
                    emit(
                        "push-connected", "→ \(name) connected to \(rule)" + (count > 1 ? " (again, #\(count))" : ""),
                        reason: nil)
                    let queueEnded = await withTaskGroup(of: Void.self) { watch in
                        defer { watch.cancelAll() }
                        if let limit = streams.pushStall, let probe {
                            watch.addTask { await replaceIfDeaf(connection, after: limit, probe: probe) }
                        }
                        return await send(to: connection)
                    }
                    if queueEnded { return nil }
                }
                return nil
            }
            group.addTask {
                await Linger.idle(for: streams.pushLinger) { hub.publisher == nil } ? .unpublished : nil
            }
            var ending = Ending.stopped
            // The first to finish decides, unless it is the sender, which ends only with the caller.
            while let next = await group.next() {
                if let next {
                    ending = next
                    break
                }
            }
            queue.close()
            group.cancelAll()
            return ending
        }
        let report = queue.report
        let dropped = report.droppedBytes / TransportStream.packetSize
        let total = link.bytes.load(ordering: .relaxed)
        // What the queue still held when the push ended (the relay stopped, or the caller gave up): taken from the
        // publisher, never sent, counted.
        let unsent = queue.discardedBytes
        let reason: String
        switch ending {
        case .unpublished: reason = "no publisher for \(Units.duration(streams.pushLinger))"
        case .gaveUp(let why): reason = "gave up: \(why)"
        case .stopped: reason = "shutdown"
        }
        console.emit(
            "push-ended",
            "→ \(name) to \(rule) ended: \(Units.bytes(total)) sent, \(dropped) packets dropped while reconnecting "
                + "or behind, \(link.lostMessages.load(ordering: .relaxed)) messages lost with broken connections, "
                + "\(Units.bytes(UInt64(unsent))) unsent at the end, \(reason)",
            [
                "stream": .string(name), "push": .int(Int64(id)), "to": .string("\(rule)"),
                "bytes": .int(Int64(clamping: total)), "dropped_packets": .int(Int64(dropped)),
                "lost_messages": .int(Int64(link.lostMessages.load(ordering: .relaxed))),
                "unsent_bytes": .int(Int64(unsent)),
                "connects": .int(Int64(link.connects.load(ordering: .relaxed))), "reason": .string(reason),
            ])
    }

    /// Sends what the queue holds through `connection` until the queue ends (`true`) or the connection breaks.
    private func send(to connection: SRTConnection) async -> Bool {
        var holding = 0
        do {
            while let messages = await queue.next() {
                holding = messages.count
                try await connection.send(contentsOf: messages)
                holding = 0
                link.noteBytes(messages.reduce(0) { $0 + $1.count })
            }
            return true
        } catch {
            // The caller is reconnecting already. What was in hand may have gone out in part: sending it again could
            // repeat packets, so it is counted as lost.
            link.noteLost(holding)
            link.noteBroken()
            emit(
                "push-broken", "→ \(name) to \(rule): connection broke (\(holding) messages in hand lost): \(error)",
                reason: "\(error)")
            connection.close()
            return false
        }
    }

    /// Closes `connection` (the caller then connects again after its backoff) once messages went out on it for
    /// `limit` without an acknowledgement and a new call to the listener is answered while the old connection still
    /// gets none: the listener restarted or moved, or the path lost its state, where libsrt would send into the void
    /// for about 5 s. A new call that nobody answers means the path is down: the connection is kept, since SRT
    /// carries on over it once the path is back, and libsrt's silent-peer timeout ends it if not.
    private func replaceIfDeaf(_ connection: SRTConnection, after limit: Duration, probe: SRTCallerConfiguration) async
    {
        while await StallWatch.unacknowledged(connection, after: limit, sent: { link.bytes.load(ordering: .relaxed) }) {
            if Task.isCancelled || connection.isClosed { return }
            guard let before = try? await connection.currentStatistics().acknowledgementsReceived else { return }
            // The stream still flowing on the old connection is acknowledged within a round trip and 10 ms.
            let stillHeard = {
                await StallWatch.acknowledgementArrives(on: connection, after: before, within: limit / 2)
            }
            switch await StallWatch.judge(connection, probe: probe, stillHeard: stillHeard) {
            case nil:
                return
            case .keep(let why):
                stalled(limit, "the listener is silent; \(why)", "keep")
            case .reconnect:
                stalled(limit, "the listener is silent but answers a new call; connecting again", "reconnect")
                // The send fails with it, and the caller connects again after its backoff.
                connection.close()
                return
            }
        }
    }

    private func stalled(_ limit: Duration, _ what: String, _ action: String) {
        console.emit(
            "push-stalled", "→ \(name) to \(rule): nothing acknowledged for \(Units.duration(limit)); \(what)",
            ["stream": .string(name), "push": .int(Int64(id)), "to": .string("\(rule)"), "action": .string(action)])
    }

    private func emit(_ event: String, _ text: String, reason: String?) {
        if let reason {
            console.emit(
                event, text,
                ["stream": .string(name), "push": .int(Int64(id)), "to": .string("\(rule)"), "reason": .string(reason)])
        } else {
            console.emit(event, text, ["stream": .string(name), "push": .int(Int64(id)), "to": .string("\(rule)")])
        }
    }

    /// The failure behind the caller's supervisor's error: the SRT error that made it give up.
    static func reason(_ error: any Error) -> String {
        if let failure = error as? SupervisorError { return "\(failure.lastFailure)" }
        return "\(error)"
    }
}
