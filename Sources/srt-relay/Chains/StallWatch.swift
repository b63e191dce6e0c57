import SRTAdapter

/// How a push or a pull notices that the other end went silent without a word (its process killed, its host gone),
/// which libsrt calls broken only after its silent-peer timeout (5 s by default; keepalives alone, one a second, must
/// not trip it). A pull's stream stops arriving, though a live stream that flowed does not pause for a second by
/// itself; a push's messages stop being acknowledged, though libsrt acknowledges a flowing stream every 10 ms. What
/// each does then is its own (``StreamPull``, ``StreamPush``): a new call to the other end, and the connection replaced
/// only if that call is answered while the old one still gets no acknowledgement.
///
/// ```swift
/// if await StallWatch.stalled(after: .seconds(1), { link.bytes.load(ordering: .relaxed) }) { /* probe */ }
/// ```
enum StallWatch {
    /// Returns `true` once `received` has stood still for `limit` after it first moved; `false` when the task is
    /// cancelled first. A connection that never carried anything is never called stalled: the stream may not be
    /// published at the origin yet.
    static func stalled(after limit: Duration, _ received: @Sendable () -> UInt64) async -> Bool {
        // A tenth of the limit at most: a stall is seen within 10 % of it; 100 ms at least.
        let check = max(.milliseconds(100), limit / 10)
        let initial = received()
        var (last, movedAt) = (initial, ContinuousClock.Instant?.none)
        while !Task.isCancelled {
            do { try await Task.sleep(for: check) } catch { return false }
            let now = ContinuousClock.now
            let count = received()
            if count != last {
                (last, movedAt) = (count, now)
            } else if let movedAt, now - movedAt >= limit {
                return true
            }
        }
        return false
    }

    /// Returns `true` once messages went out on `connection` (`sent` moved) for `limit` without one acknowledgement
    /// coming back: libsrt acknowledges a flowing stream every 10 ms. `false` when the task is cancelled or the
    /// connection is gone first. Nothing sent, nothing expected: a push whose publisher paused is not deaf.
    static func unacknowledged(
        _ connection: SRTConnection, after limit: Duration, sent: @Sendable () -> UInt64
    ) async -> Bool {
        let check = max(.milliseconds(100), limit / 10)
        guard var acknowledged = try? await connection.currentStatistics().acknowledgementsReceived else {
            return false
        }
        var sentAtAcknowledgement = sent()
        // When messages were first seen going out with no acknowledgement since.
        var unacknowledgedSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            do { try await Task.sleep(for: check) } catch { return false }
            guard let now = try? await connection.currentStatistics().acknowledgementsReceived else { return false }
            let instant = ContinuousClock.now
            if now != acknowledged {
                (acknowledged, sentAtAcknowledgement, unacknowledgedSince) = (now, sent(), nil)
            } else if sent() != sentAtAcknowledgement {
                guard let since = unacknowledgedSince else {
                    unacknowledgedSince = instant
                    continue
                }
                if instant - since >= limit { return true }
            }
        }
        return false
    }

    /// Whether the peer acknowledges a message sent on `connection` within `limit`: its libsrt does whether or not the
    /// application there reads it. The message is one transport-stream null packet (PID 0x1FFF), which a reader of it
    /// drops; srt-relay discards what its readers send. For a pull only: on a push it would join the stream.
    static func acknowledges(_ connection: SRTConnection, within limit: Duration) async -> Bool {
        guard let before = try? await connection.currentStatistics().acknowledgementsReceived,
            (try? await connection.send(nullPacket)) != nil
        else { return false }
        return await acknowledgementArrives(on: connection, after: before, within: limit)
    }

    /// Whether `connection`'s count of acknowledgements received moves past `before` within `limit`.
    static func acknowledgementArrives(
        on connection: SRTConnection, after before: Int, within limit: Duration
    ) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
            guard let now = try? await connection.currentStatistics().acknowledgementsReceived else { return false }
            if now != before { return true }
        }
        return false
    }

    /// A transport-stream null packet: sync byte, PID 0x1FFF, payload only, stuffing.
    static let nullPacket: [UInt8] = [0x47, 0x1F, 0xFF, 0x10] + [UInt8](repeating: 0xFF, count: 184)

    /// Makes a new call with `configuration` and hangs up at once; why nobody answered it, or `nil` when somebody did.
    /// A rejection is an answer: a listener is there. The pushes and pulls to one peer that died all stall at once:
    /// their calls are spread over 100 ms.
    static func newCallFails(_ configuration: SRTCallerConfiguration) async -> (any Error)? {
        try? await Task.sleep(for: .milliseconds(Int64.random(in: 0...100)))
        do {
            try await SRTConnection.connect(configuration).close()
            return nil
        } catch let error as SRTError where error.code == .connectionRejected {
            return nil
        } catch {
            return error
        }
    }

    /// What a silent connection's watch does after a new call (``judge(_:probe:stillHeard:)``).
    enum Verdict {
        /// The connection stays: why, for the line.
        case keep(String)
        /// The other end is gone, and a listener answers at its address: the connection is replaced.
        case reconnect
    }

    /// Once `connection` went silent: a new call to the other end with `probe`, then the old connection's own
    /// acknowledgement once more (`stillHeard`), since the path may have come back with the answer. `nil` when the
    /// task is cancelled or the connection closed meanwhile (the watch then ends without a line).
    static func judge(
        _ connection: SRTConnection, probe: SRTCallerConfiguration, stillHeard: () async -> Bool
    ) async -> Verdict? {
        if let failure = await newCallFails(probe) {
            return Task.isCancelled ? nil : .keep("a new call failed (\(failure)); the connection is kept")
        }
        if Task.isCancelled || connection.isClosed { return nil }
        if await stillHeard() { return .keep("it acknowledges again; the connection is kept") }
        return Task.isCancelled ? nil : .reconnect
    }
}
