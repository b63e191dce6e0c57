/// Cuts a publisher's messages into what readers are sent: at most 1316 bytes each (the SRT live payload every
/// reader takes) and, for a transport stream, whole 188-byte packets, so that a reader that drops or skips a message
/// never gets half a packet.
///
/// Most publishers send 7 whole packets per message already; those pass as they are, uncopied. Others are cut:
/// `srt-live-transmit` reading a file sends 1456-byte messages that split packets. A stream is taken for a transport
/// stream once three packet starts (0x47, 188 bytes apart) come in a row, the bytes before them skipped (a join
/// mid-packet); a stream with none in its first 4 KiB is something else, only cut to size, its bytes unchanged.
///
/// ```swift
/// var aligner = PacketAligner()
/// let messages = aligner.align(try await publisher.receiveAvailable())   // whole packets, ≤ 1316 bytes each
/// ```
struct PacketAligner {
    /// The largest message a reader is sent: 7 packets.
    static let maxMessage = 7 * TransportStream.packetSize
    /// How much of a stream is looked at for three packet starts in a row before it is taken for something other
    /// than a transport stream; and how much a transport stream may skip in a row before it is looked at again.
    static let decisionLimit = 4096

    private enum Mode {
        /// Looking for three packet starts in a row: the first bytes of a publisher, or of a reader's first join.
        case undecided
        case transportStream
        /// Not a transport stream: cut to size only.
        case other
    }

    /// Bytes held back: of a packet whose rest has not come yet, or while undecided.
    private var carry: [UInt8] = []
    private var mode = Mode.undecided
    /// Bytes skipped to find the sync byte again (a publisher that lost bytes mid-packet, or a join mid-packet).
    private(set) var skippedBytes = 0
    /// Bytes skipped since the last whole packet.
    private var skippedInARow = 0

    mutating func align(_ messages: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(messages.count)
        for message in messages where !message.isEmpty {
            switch mode {
            case .other:
                Self.cut(message, into: &out)
            case .transportStream
            where carry.isEmpty && message.count <= Self.maxMessage && TransportStream.isWholePackets(message):
                out.append(message)
            case .transportStream:
                carry += message
                emitPackets(into: &out)
            case .undecided:
                carry += message
                decide(into: &out)
            }
        }
        return out
    }

    /// Forgets what is held and what the stream was taken for: nobody reads it now, and the next reader's join is
    /// looked at afresh (a join mid-packet is found and cut there).
    mutating func reset() {
        carry.removeAll(keepingCapacity: true)
        mode = .undecided
        skippedInARow = 0
    }

    /// Takes the stream for a transport stream at the first three packet starts in a row in what is held (the bytes
    /// before them skipped), or for something else once ``decisionLimit`` bytes held none.
    private mutating func decide(into out: inout [[UInt8]]) {
        let size = TransportStream.packetSize
        var offset = 0
        while offset + 2 * size < carry.count {
            if carry[offset] == TransportStream.syncByte && carry[offset + size] == TransportStream.syncByte
                && carry[offset + 2 * size] == TransportStream.syncByte
            {
                mode = .transportStream
                skippedBytes += offset
                carry.removeFirst(offset)
                emitPackets(into: &out)
                return
            }
            offset += 1
        }
        guard carry.count >= Self.decisionLimit else { return }
        mode = .other
        Self.cut(carry, into: &out)
        carry.removeAll(keepingCapacity: true)
    }

    /// Messages of up to 7 whole packets from the front of `carry`; what is left is less than a packet, or a packet
    /// not yet confirmed by the sync byte after it. Past ``decisionLimit`` bytes skipped in a row, the stream is
    /// looked at again (``decide(into:)``).
    private mutating func emitPackets(into out: inout [[UInt8]]) {
        let size = TransportStream.packetSize
        var start = 0
        var run = 0
        while carry.count - start >= size {
            if isPacket(at: start) {
                start += size
                run += 1
                skippedInARow = 0
                if run == 7 {
                    emit(run, endingAt: start, into: &out)
                    run = 0
                }
                continue
            }
            // A broken packet ends the run; the stream goes on at the next confirmed packet start.
            if run > 0 {
                emit(run, endingAt: start, into: &out)
                run = 0
            }
            start += 1
            skippedBytes += 1
            skippedInARow += 1
            while start < carry.count && !(carry[start] == TransportStream.syncByte && isPacket(at: start)) {
                start += 1
                skippedBytes += 1
                skippedInARow += 1
            }
            if skippedInARow > Self.decisionLimit {
                // No packet for this long: not (or no longer) a transport stream; look again from here.
                carry.removeFirst(start)
                mode = .undecided
                skippedInARow = 0
                decide(into: &out)
                return
            }
        }
        if run > 0 { emit(run, endingAt: start, into: &out) }
        carry.removeFirst(start)
    }

    /// Whether a whole packet starts at `offset`: the sync byte there, and at the next packet's start unless the
    /// bytes end right there (or before it: then the caller waits for more).
    private func isPacket(at offset: Int) -> Bool {
        let next = offset + TransportStream.packetSize
        guard carry[offset] == TransportStream.syncByte else { return false }
        return next >= carry.count || carry[next] == TransportStream.syncByte
    }

    private func emit(_ packets: Int, endingAt end: Int, into out: inout [[UInt8]]) {
        out.append(Array(carry[(end - packets * TransportStream.packetSize)..<end]))
    }

    /// `message` in pieces of at most ``maxMessage`` bytes.
    private static func cut(_ message: [UInt8], into out: inout [[UInt8]]) {
        guard message.count > maxMessage else { return out.append(message) }
        for start in stride(from: 0, to: message.count, by: maxMessage) {
            out.append(Array(message[start..<min(start + maxMessage, message.count)]))
        }
    }
}
