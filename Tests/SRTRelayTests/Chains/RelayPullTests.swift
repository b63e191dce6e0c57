import Foundation
import SRTTestSupport
import Synchronization
import Testing

/// `--pull` (edge mode): an origin relay with the publisher, an edge relay pulling the stream for its readers on
/// demand, both on loopback. Exact bytes through the pull; the origin replaced mid-stream by a new process on its
/// port, the edge's reader staying connected and receiving again; the pull released once its last reader left.
@Suite(
    "srt-relay pulls",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayPullTests {
    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// What `reader` has once what the edge held within its latency has drained: its byte count after it stood still
    /// for `still` (at most 10 s).
    static func drained(_ reader: InProcessReader, still: Duration) async throws -> Int {
        var before = reader.bytes.count
        var since = ContinuousClock.now
        let gone = ContinuousClock.now
        while ContinuousClock.now - since < still, ContinuousClock.now - gone < .seconds(10) {
            try await Task.sleep(for: .milliseconds(20))
            if reader.bytes.count != before { (before, since) = (reader.bytes.count, .now) }
        }
        return before
    }

    /// The `action` of each `pull-stalled` line of `relay` from line `start` on.
    static func stallActions(_ relay: RelayUnderTest, since start: Int) -> [String] {
        relay.process.lines[start...].compactMap(RelayLog.decode).filter { $0["event"] as? String == "pull-stalled" }
            .compactMap { $0["action"] as? String }
    }

    /// The events of `relay`'s lines so far.
    static func events(_ relay: RelayUnderTest) -> [String] {
        relay.process.lines.compactMap(RelayLog.decode).compactMap { $0["event"] as? String }
    }

    @Test(
        "a reader of the edge gets what the origin's publisher sends, byte for byte, pulled when it asked",
        .timeLimit(.minutes(1)))
    func pulledExactly() async throws {
        let origin = try await RelayUnderTest.start(["--record", "none"])
        defer { origin.stop() }
        let edge = try await RelayUnderTest.start([
            "--record", "none", "--pull", "*=srt://127.0.0.1:\(origin.port)",
        ])
        defer { edge.stop() }
        // Nothing is pulled before a reader asks.
        #expect(!Self.events(edge).contains("pull-started"))
        let reader = try await InProcessReader(port: edge.port, streamID: "read:cam1")
        defer { reader.close() }
        _ = try await edge.log.first("pull-connected", since: 0)
        // The origin sees the pull as a reader of cam1, with the default stream id.
        let opened = try await origin.log.next("connection-opened")
        #expect(opened["role"] as? String == "read" && opened["stream"] as? String == "cam1", "\(opened)")
        let payload = RelayAcceptanceTests.payload(seed: 0x71)
        try await RelayReaderTests.publish(
            payload, as: "cam1", port: origin.port, log: origin.log, total: payload.count)
        #expect(await RelayAcceptanceTests.eventually { reader.bytes.count >= payload.count })
        #expect(reader.bytes == payload, "\(reader.bytes.count) bytes read of \(payload.count)")
    }

    @Test(
        "the origin is replaced by a new process mid-stream: the edge's reader stays connected and receives again",
        .timeLimit(.minutes(1)))
    func originRestarts() async throws {
        try await Self.withFlowingPull { origin, edge, reader, _ in
            origin.process.signal(SIGTERM)
            #expect(await origin.process.exitStatus(within: .seconds(10)) == 0)
            let before = try await Self.drained(reader, still: .milliseconds(500))
            let replacement = try await RelayUnderTest.start(["--record", "none"], port: origin.port)
            defer { replacement.stop() }
            let listening = ContinuousClock.now
            let resumed = await RelayAcceptanceTests.eventually(within: .seconds(20)) {
                reader.bytes.count > before + 200_000
            }
            #expect(resumed, "the edge's reader got \(reader.bytes.count - before) bytes since")
            print(
                "srt-relay pull: the origin listening again → 200 KB more at the edge's reader in \(.now - listening)")
            let events = Self.events(edge)
            #expect(events.filter { $0 == "pull-connected" }.count == 2, "\(events)")
            #expect(events.contains("pull-broken"), "\(events)")
            #expect(reader.ending.withLock { $0 } == nil)
        }
    }

    /// An origin and an edge pulling cam1 from it with `--pull-stall 1`, a reader of the edge, and a publisher of
    /// the origin fed live (srt-live-transmit, which reconnects on its own as an encoder that retries); once the
    /// reader has 200 KB, `fault` runs, and then everything stops. The reader's connection to the edge must live
    /// through it all.
    static func withFlowingPull(
        _ fault: (
            _ origin: RelayUnderTest, _ edge: RelayUnderTest, _ reader: InProcessReader, _ publisher: TestProcess
        ) async throws -> Void
    ) async throws {
        let origin = try await RelayUnderTest.start(["--record", "none"])
        defer { origin.stop() }
        let edge = try await RelayUnderTest.start([
            "--record", "none", "--pull", "cam1=srt://127.0.0.1:\(origin.port)", "--pull-stall", "1",
        ])
        defer { edge.stop() }
        let reader = try await InProcessReader(port: edge.port, streamID: "read:cam1")
        defer { reader.close() }
        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(origin.port)?mode=caller&streamid=cam1"])
        defer { publisher.terminate() }
        let stop = RelayReaderFaultTests.StopFlag()
        async let fed: Void = RelayReaderFaultTests.feedLive(publisher, until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        #expect(await RelayAcceptanceTests.eventually(within: .seconds(15)) { reader.bytes.count > 200_000 })
        try await fault(origin, edge, reader, publisher)
        stop.isSet.store(true, ordering: .relaxed)
        await fed
        #expect(!Self.events(edge).contains("connection-closed"), "\(Self.events(edge))")
    }

    @Test(
        "an origin killed mid-stream and started again is called again within the stall limit, not libsrt's 5 s",
        .timeLimit(.minutes(1)))
    func killedOriginCalledAgain() async throws {
        try await Self.withFlowingPull { origin, edge, _, _ in
            let lines = edge.process.lines.count
            let killed = ContinuousClock.now
            origin.process.signal(SIGKILL)
            _ = await origin.process.exitStatus(within: .seconds(5))
            let replacement = try await RelayUnderTest.start(["--record", "none"], port: origin.port)
            defer { replacement.stop() }
            let restarted = ContinuousClock.now - killed
            let (_, connected) = try await edge.log.first("pull-connected", since: lines, within: .seconds(15))
            let after = try #require(edge.process.arrival(ofLine: connected)) - killed
            let actions = Self.stallActions(edge, since: lines)
            print("srt-relay pull: the origin killed and started again → the pull connected again \(after) after it")
            // The edge's latency (1 s here) drains, 1 s without a message, 0.5 s without an acknowledgement, a call
            // answered, the first backoff: about 2.7 s; libsrt alone breaks the connection after over 5 s. Judged
            // when the new origin listened in time to answer that call.
            if restarted < .seconds(2) {
                #expect(actions.first == "reconnect", "\(actions)")
                #expect(after < .milliseconds(4_500), "connected again \(after) after the kill")
            }
        }
    }

    @Test(
        "an origin that stops answering mid-stream keeps its connection, which carries on when it answers again",
        .timeLimit(.minutes(1)))
    func silentOriginKept() async throws {
        try await Self.withFlowingPull { origin, edge, reader, _ in
            // Stopped, not killed: nothing answers, as over a link that is down, and its sockets stay.
            let lines = edge.process.lines.count
            let stopped = ContinuousClock.now
            origin.process.signal(SIGSTOP)
            defer { origin.process.signal(SIGCONT) }
            // Until the edge has looked (about 3.5 s), and at most 4 s: at 5 s libsrt itself would break the
            // connection.
            let looked = await RelayAcceptanceTests.eventually(within: .seconds(4)) {
                edge.process.lines[lines...].contains { $0.contains("\"pull-stalled\"") }
            }
            origin.process.signal(SIGCONT)
            let before = reader.bytes.count
            #expect(
                await RelayAcceptanceTests.eventually(within: .seconds(15)) { reader.bytes.count > before + 200_000 })
            let said = edge.process.lines[lines...].compactMap(RelayLog.decode)
            let actions = Self.stallActions(edge, since: lines)
            if looked {
                #expect(actions.allSatisfy { $0 == "keep" }, "\(actions)")
            } else {
                print("srt-relay pull: the edge had not looked \(ContinuousClock.now - stopped) after the stop")
            }
            #expect(!said.contains { $0["event"] as? String == "pull-connected" }, "the first connection carried on")
        }
    }

    @Test(
        "an origin whose publisher pauses keeps the edge's connection: it acknowledges, with nothing to send",
        .timeLimit(.minutes(1)))
    func pausedPublisherKept() async throws {
        try await Self.withFlowingPull { _, edge, reader, publisher in
            let lines = edge.process.lines.count
            publisher.signal(SIGSTOP)
            defer { publisher.signal(SIGCONT) }
            // The edge looks after about 2.5 s; before 5 s, the origin's libsrt would break the publisher's connection.
            let looked = await RelayAcceptanceTests.eventually(within: .seconds(4)) {
                edge.process.lines[lines...].contains { $0.contains("\"pull-stalled\"") }
            }
            publisher.signal(SIGCONT)
            #expect(looked, "the edge looked at the stalled stream")
            let before = reader.bytes.count
            #expect(
                await RelayAcceptanceTests.eventually(within: .seconds(15)) { reader.bytes.count > before + 200_000 })
            let said = edge.process.lines[lines...].compactMap(RelayLog.decode)
            let actions = Self.stallActions(edge, since: lines)
            #expect(actions.allSatisfy { $0 == "keep" }, "\(actions)")
            #expect(!said.contains { $0["event"] as? String == "pull-connected" }, "the first connection carried on")
        }
    }

    @Test("the pull ends once its last reader has been gone for the linger time", .timeLimit(.minutes(1)))
    func releasedAfterLastReader() async throws {
        let origin = try await RelayUnderTest.start(["--record", "none"])
        defer { origin.stop() }
        let edge = try await RelayUnderTest.start([
            "--record", "none", "--pull", "*=srt://127.0.0.1:\(origin.port)?streamid=read:{stream}",
        ])
        defer { edge.stop() }
        let reader = try await InProcessReader(port: edge.port, streamID: "read:cam2")
        _ = try await edge.log.first("pull-connected", since: 0)
        let left = ContinuousClock.now
        reader.close()
        let ended = try await edge.log.next("pull-ended", within: .seconds(20))
        let after = ContinuousClock.now - left
        #expect((ended["reason"] as? String ?? "").hasPrefix("no reader"), "\(ended)")
        #expect(after >= .seconds(10), "ended \(after) after the reader left")
        // The origin saw its reader go.
        let closed = try await origin.log.next("connection-closed", within: .seconds(10))
        #expect(closed["role"] as? String == "read", "\(closed)")
    }
}
