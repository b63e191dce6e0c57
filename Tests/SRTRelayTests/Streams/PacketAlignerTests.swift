import Testing

@testable import srt_relay

/// Publishers' messages cut into whole transport stream packets of at most 1316 bytes, whatever their sizes.
@Suite("srt-relay packet alignment")
struct PacketAlignerTests {
    /// `count` packets with the sync byte, a PID and a counter, so that any shift or loss shows.
    static func packets(_ count: Int, pid: UInt16 = 0x100) -> [UInt8] {
        (0..<count).flatMap { index -> [UInt8] in
            var packet = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: TransportStream.packetSize)
            packet[0] = TransportStream.syncByte
            packet[1] = UInt8(pid >> 8) & 0x1F
            packet[2] = UInt8(truncatingIfNeeded: pid)
            packet[3] = 0x10 | UInt8(index % 16)
            return packet
        }
    }

    /// `bytes` cut at sizes drawn from `sizes` in turn.
    static func cut(_ bytes: [UInt8], sizes: [Int]) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var start = 0
        var turn = 0
        while start < bytes.count {
            let end = min(bytes.count, start + sizes[turn % sizes.count])
            messages.append(Array(bytes[start..<end]))
            start = end
            turn += 1
        }
        return messages
    }

    @Test(
        "any cutting of a transport stream comes out as whole packets, at most 7 a message, every byte in order",
        arguments: [[1316], [1456], [188, 1000, 1], [7, 1500, 300], [1], [2000]])
    func realigns(sizes: [Int]) {
        let stream = Self.packets(500)
        var aligner = PacketAligner()
        // In two calls, as receives would bring them.
        let messages = Self.cut(stream, sizes: sizes)
        let out =
            aligner.align(Array(messages.prefix(messages.count / 2)))
            + aligner.align(
                Array(messages.dropFirst(messages.count / 2)))
        #expect(out.allSatisfy { TransportStream.isWholePackets($0) && $0.count <= PacketAligner.maxMessage })
        #expect(out.flatMap { $0 } == stream)
    }

    @Test("messages of 7 whole packets pass as they are")
    func passesAlignedMessages() {
        let messages = Self.cut(Self.packets(70), sizes: [1316])
        var aligner = PacketAligner()
        #expect(aligner.align(messages) == messages)
    }

    @Test("bytes lost mid-packet: the next packet is found again, and only the broken one is skipped")
    func resynchronises() {
        let stream = Self.packets(20)
        // Packet 3 loses its last 100 bytes.
        let broken = Array(stream[..<(4 * 188 - 100)]) + Array(stream[(4 * 188)...])
        var aligner = PacketAligner()
        let out = aligner.align(Self.cut(broken, sizes: [1456]))
        #expect(out.allSatisfy { TransportStream.isWholePackets($0) })
        #expect(out.flatMap { $0 } == Array(stream[..<(3 * 188)]) + Array(stream[(4 * 188)...]))
        #expect(aligner.skippedBytes == 88)
    }

    @Test("a stream that is not a transport stream is only cut to 1316 bytes, its bytes unchanged")
    func otherStreams() {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        var aligner = PacketAligner()
        let out = aligner.align(Self.cut(bytes, sizes: [1456, 100]))
        #expect(out.allSatisfy { $0.count <= PacketAligner.maxMessage })
        #expect(out.flatMap { $0 } == bytes)
    }
}
