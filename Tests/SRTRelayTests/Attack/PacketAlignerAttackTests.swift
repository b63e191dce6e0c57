import Testing

@testable import srt_relay

/// `PacketAligner` once decided "transport stream" from the first byte alone. A publisher whose payload is not a
/// transport stream but happens to start with 0x47 (`G`: 1 stream in 256 of arbitrary binary, every text stream
/// starting with "G") had every byte thrown away before its readers, silently: no packet was ever "confirmed".
@Suite("attack: PacketAligner on a non-TS stream starting with 0x47")
struct PacketAlignerAttackTests {
    @Test("a non-TS stream whose first byte is 0x47 still reaches readers")
    func nonTransportStreamStartingWithSyncByte() {
        var aligner = PacketAligner()
        let message = Array("GET /cam1 ... this is not MPEG-TS, it merely starts with a capital G.\n".utf8)
        let sent = Array(repeating: message, count: 100)
        var delivered: [UInt8] = []
        for batch in sent { delivered += aligner.align([batch]).joined() }
        let total = sent.reduce(0) { $0 + $1.count }
        #expect(delivered.count == total, "readers got \(delivered.count) of \(total) bytes")
        #expect(aligner.skippedBytes == 0, "\(aligner.skippedBytes) bytes skipped")
    }

    @Test("binary data whose first byte is 0x47 still reaches readers")
    func binaryStartingWithSyncByte() {
        var aligner = PacketAligner()
        // Deterministic pseudo-random 1316-byte messages (say, an encrypted or compressed payload), first byte 0x47.
        var state: UInt32 = 12345
        var sent: [[UInt8]] = []
        for _ in 0..<50 {
            var message = [UInt8](repeating: 0, count: 1316)
            for index in message.indices {
                state = state &* 1_664_525 &+ 1_013_904_223
                message[index] = UInt8(truncatingIfNeeded: state >> 24)
                if message[index] == 0x47 { message[index] = 0x46 }
            }
            sent.append(message)
        }
        sent[0][0] = 0x47
        let delivered = aligner.align(sent).joined().count
        #expect(delivered == 50 * 1316, "readers got \(delivered) of \(50 * 1316) bytes")
    }
}
