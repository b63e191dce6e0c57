import Foundation
import SRTAdapter
import SRTTestSupport
import Testing

/// srt-relay as an SRT server: publishers and readers by stream id, with real peers (srt-live-transmit and the
/// adapter's caller), bytes compared.
@Suite(
    "srt-relay readers",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayReaderTests {
    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// A relay on a free port recording to a fresh directory, with JSON lines; `extra` flags added.
    static func startRelay(_ extra: [String] = []) throws -> (TestProcess, RelayLog, Int, URL) {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        let relay = try TestProcess(
            binary,
            ["--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1"] + extra)
        return (relay, RelayLog(relay), port, directory)
    }

    /// Publishes `payload` as `streamID` with srt-live-transmit, paced, and waits for the relay to count `total`
    /// bytes and close the publisher.
    static func publish(_ payload: [UInt8], as streamID: String, port: Int, log: RelayLog, total: Int) async throws {
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"])
        defer { publisher.terminate() }
        // The publisher's line (a reader's may come first).
        var opened = try await log.next("connection-opened")
        while opened["role"] as? String != "publish" { opened = try await log.next("connection-opened") }
        await RelayAcceptanceTests.feed(publisher, payload, close: true)
        try await log.waitForBytes(total)
        publisher.signal(SIGINT)
        // The publisher's line (a reader's may come first).
        var closed = try await log.next("connection-closed")
        while closed["role"] as? String != "publish" { closed = try await log.next("connection-closed") }
        #expect(closed["bytes"] as? Int == payload.count)
    }

    static func fileBytes(_ path: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
    }

    @Test(
        "readers there before the publisher get its bytes exactly, and through its reconnection both streams",
        .timeLimit(.minutes(1)))
    func readersGetEveryByte() async throws {
        let (relay, log, port, directory) = try Self.startRelay()
        defer {
            relay.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        _ = try await log.next("listening")
        let output = directory.path + "-reader.ts"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let external = try LiveTransmitReader.start(port: port, streamID: "read:cam1", into: output)
        defer { external.terminate() }
        let inProcess = try await InProcessReader(port: port, streamID: "#!::r=cam1,m=request")
        defer { inProcess.close() }
        for _ in 0..<2 {
            let opened = try await log.next("connection-opened")
            #expect(opened["role"] as? String == "read")
            #expect(opened["stream"] as? String == "cam1")
        }
        let first = RelayAcceptanceTests.payload(seed: 0x41)
        let second = RelayAcceptanceTests.payload(seed: 0x42)
        try await Self.publish(first, as: "cam1", port: port, log: log, total: first.count)
        // The readers stay while the stream has no publisher, and get the next one's stream.
        try await Self.publish(second, as: "publish:cam1", port: port, log: log, total: first.count + second.count)
        let expected = first + second
        #expect(await RelayAcceptanceTests.eventually { inProcess.bytes.count >= expected.count })
        let read = inProcess.bytes
        #expect(read == expected, "\(read.count) bytes read of \(expected.count)")
        // srt-live-transmit writes through a buffer of its own: what it received is all in the file once it exits.
        #expect(await RelayAcceptanceTests.eventually { Self.fileBytes(output).count >= expected.count - 65_536 })
        external.signal(SIGINT)
        _ = await external.exitStatus(within: .seconds(3))
        let written = Self.fileBytes(output)
        #expect(written == expected, "srt-live-transmit read \(written.count) bytes of \(expected.count)")
        // Recorded as well, one file per publisher.
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files.count == 2)
        let recorded = Set(files.map { Self.fileBytes(directory.appendingPathComponent($0).path) })
        #expect(recorded == [first, second], "recordings of \(recorded.map(\.count)) bytes")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    @Test(
        "a second publisher is refused with 1409; with --takeover it replaces the first, whose end says so",
        .timeLimit(.minutes(1)))
    func onePublisherPerStream() async throws {
        for takeover in [false, true] {
            let (relay, log, port, directory) = try Self.startRelay(takeover ? ["--takeover", "--record", "none"] : [])
            defer {
                relay.terminate()
                try? FileManager.default.removeItem(at: directory)
            }
            _ = try await log.next("listening")
            let first = try await InProcessReader(port: port, streamID: "cam1", reading: false)
            defer { first.close() }
            _ = try await log.next("connection-opened")
            let reason = await RelayHostilePeerTests.rejectReason(port: port, streamID: "publish:cam1")
            if takeover {
                #expect(reason == nil)
                // The first publisher's line; the second left at once too, in either order.
                #expect(
                    await RelayAcceptanceTests.eventually {
                        relay.lines.compactMap(RelayLog.decode).contains {
                            $0["event"] as? String == "connection-closed" && $0["id"] as? Int == 1
                                && $0["reason"] as? String == "replaced by a new publisher"
                        }
                    })
                #expect(await RelayAcceptanceTests.eventually { first.connection.state.isClosedOrBroken })
            } else {
                #expect(reason == 1409)
                // Another stream is free.
                #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "cam2") == nil)
            }
            relay.signal(SIGTERM)
            #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        }
    }

    @Test("readers past --max-readers are refused with 1402; a stream id the relay cannot read with 1400")
    func refusals() async throws {
        let (relay, log, port, directory) = try Self.startRelay(["--max-readers", "2"])
        defer {
            relay.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        _ = try await log.next("listening")
        let readers = [
            try await InProcessReader(port: port, streamID: "read:cam1"),
            try await InProcessReader(port: port, streamID: "read:cam1"),
        ]
        defer { for reader in readers { reader.close() } }
        for _ in readers { _ = try await log.next("connection-opened") }
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "read:cam1") == 1402)
        // Another stream has its own readers.
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "read:cam2") == nil)
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "#!::m=publish") == 1400)
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "#!::r=cam1,m=bidirectional") == 1400)
    }

    @Test(
        "a stalled reader (a stopped process, a reader that stops reading) changes nothing for the others",
        .timeLimit(.minutes(1)))
    func stalledReaders() async throws {
        let (relay, log, port, directory) = try Self.startRelay([
            "--reader-buffer", "64K", "--slow-reader-limit", "0.5", "--record", "none",
        ])
        defer {
            relay.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        _ = try await log.next("listening")
        let readers = [
            try await InProcessReader(port: port, streamID: "read:cam1"),
            try await InProcessReader(port: port, streamID: "read:cam1"),
        ]
        defer { for reader in readers { reader.close() } }
        let unread = try await InProcessReader(port: port, streamID: "read:cam1", reading: false)
        defer { unread.close() }
        let output = directory.path + "-stopped.ts"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let stopped = try LiveTransmitReader.start(port: port, streamID: "read:cam1", into: output)
        defer { stopped.terminate() }
        for _ in 0..<4 { _ = try await log.next("connection-opened") }
        stopped.signal(SIGSTOP)
        // 3 s at about 40 Mbit/s: past libsrt's 1 s before it drops what the stopped reader does not acknowledge,
        // and past the reader's limit after that.
        let payload = (0..<40).flatMap { RelayAcceptanceTests.payload(seed: UInt8($0)) }
        try await Self.publish(payload, as: "cam1", port: port, log: log, total: payload.count)
        for reader in readers {
            #expect(await RelayAcceptanceTests.eventually { reader.bytes.count >= payload.count })
            let read = reader.bytes
            #expect(read == payload, "\(read.count) bytes read of \(payload.count)")
        }
        // The stopped reader was ended for it, with the reason.
        let closed = relay.lines.compactMap(RelayLog.decode).filter {
            $0["role"] as? String == "read" && $0["event"] as? String == "connection-closed"
        }
        #expect(closed.count == 1)
        #expect((closed.first?["reason"] as? String)?.hasPrefix("too slow") == true, "\(closed)")
        #expect(closed.first?["sender_dropped_messages"] as? Int ?? 0 > 0)
        stopped.signal(SIGCONT)
    }
}
