/// Cuts a publisher's messages into what readers are sent: at most 1316 bytes each (the SRT live payload every
/// reader takes) and, for a transport stream, whole 188-byte packets, so that a reader that drops or skips a message
/// never gets half a packet.
///
/// Most publishers send 7 whole packets per message already; those pass as they are, uncopied. Others are cut:
/// `srt-live-transmit` reading a file sends 1456-byte messages that split packets. A stream that does not start with
/// the sync byte is not a transport stream and is only cut to size, its bytes unchanged.
///
/// ```swift
/// var aligner = PacketAligner()
/// let messages = aligner.align(try await publisher.receiveAvailable())   // whole packets, ≤ 1316 bytes each
/// ```
struct PacketAligner {
    /// The largest message a reader is sent: 7 packets.
    static let maxMessage = 7 * TransportStream.packetSize

    /// Bytes of a packet whose rest has not come yet.
    private var carry: [UInt8] = []
    /// Decided from the first byte the publisher sends.
    private var isTransportStream: Bool?
    /// Bytes skipped to find the sync byte again (a publisher that lost bytes mid-packet).
    private(set) var skippedBytes = 0

    mutating func align(_ messages: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(messages.count)
        for message in messages where !message.isEmpty {
            if isTransportStream == nil { isTransportStream = message[0] == TransportStream.syncByte }
            if isTransportStream == false {
                Self.cut(message, into: &out)
            } else if carry.isEmpty && message.count <= Self.maxMessage && TransportStream.isWholePackets(message) {
                out.append(message)
            } else {
                carry += message
                emitPackets(into: &out)
            }
        }
        return out
    }

    /// Forgets a partial packet: nobody reads the stream now, and the next reader starts at a table anyway.
    mutating func reset() {
        carry.removeAll(keepingCapacity: true)
    }

    /// Messages of up to 7 whole packets from the front of `carry`; what is left is less than a packet, or a packet
    /// not yet confirmed by the sync byte after it.
    private mutating func emitPackets(into out: inout [[UInt8]]) {
        let size = TransportStream.packetSize
        var start = 0
        var run = 0
        while carry.count - start >= size {
            if isPacket(at: start) {
                start += size
                run += 1
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
            while start < carry.count && !(carry[start] == TransportStream.syncByte && isPacket(at: start)) {
                start += 1
                skippedBytes += 1
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
