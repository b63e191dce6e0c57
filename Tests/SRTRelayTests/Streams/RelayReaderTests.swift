import Foundation
import SRTAdapter
import SRTTestSupport
import Synchronization
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
    ///
    /// Its SRT latency is 1 s (callers' 120 ms are raised to it in the handshake): these tests check that every byte
    /// reaches every reader, and live mode gives up on what is later than the latency, which a reader in this busy
    /// test process can be on a loaded machine. A stopped reader is dropped by libsrt a second later for it.
    static func startRelay(
        _ extra: [String] = [], namespace: NetworkNamespace? = nil, environment: [String: String] = [:],
        port: Int? = nil, directory: URL? = nil
    ) throws -> (TestProcess, RelayLog, Int, URL) {
        let binary = try #require(RelayBinary.path)
        let port = try port ?? RelayBinary.freePort()
        let directory =
            directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1",
                "--latency", "1000",
            ] + extra, environment: environment, namespace: namespace)
        return (relay, RelayLog(relay), port, directory)
    }

    /// Publishes `payload` as `streamID` with srt-live-transmit, paced (about 40 Mbit/s, or 9 with `slowly`), and
    /// waits for the relay to count `total` bytes and close the publisher; `beforeFeeding` runs once the publisher
    /// is connected, just before its first byte.
    static func publish(
        _ payload: [UInt8], as streamID: String, port: Int, log: RelayLog, total: Int, slowly: Bool = false,
        beforeFeeding: () -> Void = {}
    ) async throws {
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"])
        defer { publisher.terminate() }
        // The publisher's line (a reader's may come first).
        var opened = try await log.next("connection-opened")
        while opened["role"] as? String != "publish" { opened = try await log.next("connection-opened") }
        beforeFeeding()
        // Bounded: a publisher that stops reading its input would otherwise hold the feeding thread, and the test,
        // for good; killing it ends the write.
        let fed = RelayReaderFaultTests.StopFlag()
        let feeding = Task.detached {
            if slowly {
                await feedSlowly(publisher, payload)
            } else {
                await RelayAcceptanceTests.feed(publisher, payload, close: true)
            }
            fed.isSet.store(true, ordering: .relaxed)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while !fed.isSet.load(ordering: .relaxed), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        if !fed.isSet.load(ordering: .relaxed) {
            Issue.record("srt-live-transmit took no input for 30 s")
            publisher.terminate()
        }
        await feeding.value
        do {
            try await log.waitForBytes(total)
        } catch {
            // Whether the missing bytes were in the relay's libsrt buffer: a closing connection reads what is left,
            // so the count at the close tells a missed wake-up (all there) from a loss on the way (still short).
            publisher.signal(SIGINT)
            let closed = try? await log.first("connection-closed", since: 0, within: .seconds(5)).0
            throw RelayLogError(description: "\(error)\nthen, with the publisher stopped: \(closed ?? [:])")
        }
        publisher.signal(SIGINT)
        // The publisher's line (a reader's may come first).
        var closed = try await log.next("connection-closed")
        while closed["role"] as? String != "publish" { closed = try await log.next("connection-closed") }
        #expect(closed["bytes"] as? Int == payload.count)
    }

    /// Writes `bytes` to the publisher's stdin from a thread of its own, 4 chunks of 1456 bytes every 5 ms (about
    /// 9 Mbit/s), then closes it.
    static func feedSlowly(_ publisher: TestProcess, _ bytes: [UInt8]) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                defer { done.resume() }
                for (index, start) in stride(from: 0, to: bytes.count, by: 1456).enumerated() {
                    guard publisher.write(bytes[start..<min(start + 1456, bytes.count)]) else { return }
                    if index % 4 == 3 { usleep(5000) }
                }
                publisher.closeInput()
            }
        }
    }

    static func fileBytes(_ path: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
    }

    @Test(
        "readers there before the publisher get its bytes exactly, and through its reconnection both streams",
        .timeLimit(.minutes(1)))
    func readersGetEveryByte() async throws {
        let started = try await RelayUnderTest.start()
        defer { started.stop() }
        let (relay, log, port, directory) = (started.process, started.log, started.port, started.directory)
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
        // Its last bytes (up to a stdio buffer's worth) reach the file as it exits, which took over 3 s once with a
        // core kept busy.
        let exited = await external.exitStatus(within: .seconds(15))
        #expect(exited != nil, "srt-live-transmit exited on SIGINT")
        let written = Self.fileBytes(output)
        #expect(written == expected, "srt-live-transmit read \(written.count) bytes of \(expected.count)")
        // Recorded as well, one file per publisher.
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files.count == 2)
        let recorded = Set(files.map { Self.fileBytes(directory.appendingPathComponent($0).path) })
        #expect(recorded == [first, second], "recordings of \(recorded.map(\.count)) bytes")
        relay.signal(SIGTERM)
        // Exit 0 (its timing is RelayAcceptanceTests' to check, on a quiet machine).
        #expect(await relay.exitStatus(within: .seconds(10)) == 0)
    }

    @Test(
        "a second publisher is refused with 1409; with --takeover it replaces the first, whose end says so",
        .timeLimit(.minutes(1)))
    func onePublisherPerStream() async throws {
        for takeover in [false, true] {
            let started = try await RelayUnderTest.start(takeover ? ["--takeover", "--record", "none"] : [])
            defer { started.stop() }
            let (relay, log, port) = (started.process, started.log, started.port)
            let first = try await InProcessReader(port: port, streamID: "cam1", reading: false)
            defer { first.close() }
            _ = try await log.next("connection-opened")
            if takeover {
                // The second stays connected, as a real publisher does: one that left at once could be gone (and
                // dropped from libsrt's accept queue) before a loaded relay takes it, and replace nobody.
                let second = try await InProcessReader(port: port, streamID: "publish:cam1", reading: false)
                defer { second.close() }
                #expect(
                    await RelayAcceptanceTests.eventually {
                        relay.lines.compactMap(RelayLog.decode).contains {
                            $0["event"] as? String == "connection-closed" && $0["id"] as? Int == 1
                                && $0["reason"] as? String == "replaced by a new publisher"
                        }
                    }, "the relay's lines:\n\(relay.lines.joined(separator: "\n"))")
                #expect(await RelayAcceptanceTests.eventually { first.connection.state.isClosedOrBroken })
                #expect(second.connection.state == .connected)
            } else {
                let reason = await RelayHostilePeerTests.rejectReason(port: port, streamID: "publish:cam1")
                #expect(reason == 1409)
                // Another stream is free.
                #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "cam2") == nil)
            }
            relay.signal(SIGTERM)
            // Exit 0 (its timing is RelayAcceptanceTests' to check, on a quiet machine).
            #expect(await relay.exitStatus(within: .seconds(10)) == 0)
        }
    }

    @Test("readers past --max-readers are refused with 1402; a stream id the relay cannot read with 1400")
    func refusals() async throws {
        let started = try await RelayUnderTest.start(["--max-readers", "2"])
        defer { started.stop() }
        let (log, port) = (started.log, started.port)
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
        let started = try await RelayUnderTest.start([
            "--reader-buffer", "64K", "--slow-reader-limit", "0.5", "--record", "none",
        ])
        defer { started.stop() }
        let (relay, log, port, directory) = (started.process, started.log, started.port, started.directory)
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
        // About 4 s at 9 Mbit/s: past the 2 s libsrt waits (a second past the latency) before it drops what the
        // stopped reader does not acknowledge, and past the reader's limit after that. Stopped just before the first
        // byte: stopped earlier (a slow start on a loaded machine), libsrt's 5 s peer idle timeout could end it before
        // anything was dropped.
        let payload = (0..<16).flatMap { RelayAcceptanceTests.payload(seed: UInt8($0)) }
        try await Self.publish(payload, as: "cam1", port: port, log: log, total: payload.count, slowly: true) {
            stopped.signal(SIGSTOP)
        }
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
