import Foundation
import SRTAdapter
import SRTTestSupport
import Synchronization
import Testing

/// The publisher's `PacketAligner` is only fed while its stream has readers (StreamCopier), so what it first sees is
/// where the first reader joined. It once decided "transport stream or not" from that first byte: a transport stream
/// whose messages are not 7 whole packets (srt-live-transmit reading a file sends 1456 bytes; here 1001), joined
/// mid-packet, was judged "not TS" for good, and every message the reader got split packets. A late reader must get
/// whole packets, as one there before the publisher does.
@Suite(
    "attack: a reader joining a running non-1316 TS publisher",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct LateReaderAlignmentAttackTests {
    /// `count` transport stream packets: a PAT (PID 0, payload unit start) every 20th, the others PID 0x100 with 0xFF
    /// payload (so no byte inside a packet is 0x47).
    static func transportStream(packets count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 188)
        for index in 0..<count {
            var packet = [UInt8](repeating: 0xFF, count: 188)
            packet[0] = 0x47
            if index % 20 == 0 {
                packet[1] = 0x40
                packet[2] = 0x00
            } else {
                packet[1] = 0x01
                packet[2] = 0x00
            }
            packet[3] = 0x10 | UInt8(index & 0x0F)
            bytes += packet
        }
        return bytes
    }

    @Test("a reader that joins a running publisher of 1001-byte messages gets whole packets", .timeLimit(.minutes(1)))
    func lateReaderGetsWholePackets() async throws {
        let started = try await RelayUnderTest.start(["--record", "none"])
        defer { started.stop() }
        let (log, port) = (started.log, started.port)
        let publisher = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: "127.0.0.1", port: port, streamID: "publish:cam1"))
        defer { publisher.close() }
        _ = try await log.next("connection-opened")
        let stream = Self.transportStream(packets: 4000)
        let messages = stride(from: 0, to: stream.count, by: 1001).map {
            Array(stream[$0..<min($0 + 1001, stream.count)])
        }
        // Before any reader: the aligner is not fed.
        // Paced in groups: a sleep per message would take minutes on a loaded machine.
        for (index, message) in messages[0..<100].enumerated() {
            try await publisher.send(message)
            if index % 8 == 7 { try await Task.sleep(for: .milliseconds(5)) }
        }
        // Past the latency (120 ms): the relay took them in with nobody to deliver them to.
        try await Task.sleep(for: .milliseconds(500))
        let reader = try await SRTConnection.connect(
            try SRTCallerConfiguration(
                host: "127.0.0.1", port: port, streamID: "read:cam1", connectTimeout: .seconds(3)))
        defer { reader.close() }
        let received = Mutex<[[UInt8]]>([])
        let task = Task {
            while let got = try? await reader.receiveAvailable() { received.withLock { $0 += got } }
        }
        defer { task.cancel() }
        _ = try await log.next("connection-opened")
        for (index, message) in messages[100...].enumerated() {
            try await publisher.send(message)
            if index % 8 == 7 { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(await RelayAcceptanceTests.eventually { received.withLock { $0.count } > 100 })
        let got = received.withLock { $0 }
        let broken = got.filter { message in
            !(message.count % 188 == 0
                && stride(from: 0, to: message.count, by: 188).allSatisfy { message[$0] == 0x47 })
        }
        let first = got.first ?? []
        #expect(
            broken.count == 0,
            "\(broken.count) of \(got.count) messages are not whole packets; the first is \(first.count) bytes, starting with \(first.prefix(1))"
        )
    }
}
