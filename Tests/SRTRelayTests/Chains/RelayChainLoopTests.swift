import Foundation
import SRTTestSupport
import Synchronization
import Testing

/// Loops in relay chains are refused in the handshake (1508) and end the push or pull that would close them: an edge
/// pulling from itself, and two relays pushing to each other.
@Suite(
    "srt-relay chain loops",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayChainLoopTests {
    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    @Test("an edge that pulls from itself refuses itself with 1508 and its pull gives up; its reader stays")
    func pullFromItself() async throws {
        let port = try RelayBinary.freePort()
        let edge = try await RelayUnderTest.start(
            ["--record", "none", "--relay-id", "edge-1", "--pull", "*=srt://127.0.0.1:\(port)"], port: port)
        defer { edge.stop() }
        let reader = try await InProcessReader(port: edge.port, streamID: "read:cam1")
        defer { reader.close() }
        let ended = try await edge.log.next("pull-ended", within: .seconds(15))
        let reason = ended["reason"] as? String ?? ""
        #expect(reason.hasPrefix("gave up") && reason.contains("1508"), "\(ended)")
        #expect(reader.ending.withLock { $0 } == nil, "the reader is still connected")
    }

    @Test("two relays pushing every stream to each other: the push back is refused with 1508 and gives up")
    func pushBack() async throws {
        let (portA, portB) = (try RelayBinary.freePort(), try RelayBinary.freePort())
        let a = try await RelayUnderTest.start(
            ["--record", "none", "--relay-id", "a", "--push", "*=srt://127.0.0.1:\(portB)"], port: portA)
        defer { a.stop() }
        let b = try await RelayUnderTest.start(
            ["--relay-id", "b", "--push", "*=srt://127.0.0.1:\(portA)"], port: portB)
        defer { b.stop() }
        let payload = RelayAcceptanceTests.payload(seed: 0x81)
        try await RelayReaderTests.publish(payload, as: "cam1", port: a.port, log: a.log, total: payload.count)
        // b takes a's push as cam1's publisher, and its own push of cam1 back to a is refused.
        let opened = try await b.log.next("connection-opened")
        #expect(opened["stream_id"] as? String == "#!::r=cam1,m=publish,x-via=a", "\(opened)")
        let ended = try await b.log.next("push-ended", within: .seconds(15))
        let reason = ended["reason"] as? String ?? ""
        #expect(reason.hasPrefix("gave up") && reason.contains("1508"), "\(ended)")
        // a's push to b goes on meanwhile: b records what a's publisher sent.
        try await b.log.waitForBytes(payload.count)
        let events = a.process.lines.compactMap(RelayLog.decode).compactMap { $0["event"] as? String }
        #expect(events.filter { $0 == "push-ended" }.isEmpty, "\(events)")
    }
}
