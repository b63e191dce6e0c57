import Foundation
import SRTTestSupport
import Synchronization
import Testing

/// `--push`: two relays on loopback, the upstream pushing what its publisher sends on to the downstream one, which
/// records it. Exact bytes through the push; the downstream relay replaced mid-stream by a new process on the same
/// port, the push reconnecting on its own; a wrong passphrase ending the push with a line that says why.
@Suite(
    "srt-relay pushes",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayPushTests {
    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// The recordings in `directory` and their sizes.
    static func recordings(in directory: URL) -> [Int] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.sorted().map { RelayReaderTests.fileBytes(directory.appendingPathComponent($0).path).count }
    }

    @Test(
        "a stream published to one relay is recorded by the relay it is pushed to, byte for byte ({stream} rule)",
        .timeLimit(.minutes(1)))
    func pushedExactly() async throws {
        let downstream = try await RelayUnderTest.start()
        defer { downstream.stop() }
        let upstream = try await RelayUnderTest.start([
            "--record", "none", "--push", "*=srt://127.0.0.1:\(downstream.port)?streamid=publish:{stream}",
        ])
        defer { upstream.stop() }
        let payload = RelayAcceptanceTests.payload(seed: 0x51)
        try await RelayReaderTests.publish(
            payload, as: "cam1", port: upstream.port, log: upstream.log, total: payload.count)
        let (connected, _) = try await upstream.log.first("push-connected", since: 0)
        #expect(connected["stream"] as? String == "cam1")
        let opened = try await downstream.log.next("connection-opened")
        #expect(opened["stream"] as? String == "cam1")
        #expect(opened["role"] as? String == "publish")
        try await downstream.log.waitForBytes(payload.count)
        // The upstream relay stops: its push ends, and the downstream relay's publisher with it.
        upstream.process.signal(SIGTERM)
        #expect(await upstream.process.exitStatus(within: .seconds(10)) == 0)
        let (ended, _) = try await upstream.log.first("push-ended", since: 0)
        #expect(ended["bytes"] as? Int == payload.count, "\(ended)")
        #expect(ended["dropped_packets"] as? Int == 0, "\(ended)")
        #expect(ended["lost_messages"] as? Int == 0, "\(ended)")
        let closed = try await downstream.log.next("connection-closed")
        #expect(closed["bytes"] as? Int == payload.count, "\(closed)")
        let files = try FileManager.default.contentsOfDirectory(atPath: downstream.directory.path)
        #expect(files.count == 1, "\(files)")
        let recorded = RelayReaderTests.fileBytes(downstream.directory.appendingPathComponent(files[0]).path)
        #expect(recorded == payload, "\(recorded.count) bytes recorded of \(payload.count)")
    }

    @Test(
        "the relay pushed to is replaced by a new process mid-stream: the push reconnects, the publisher never notices",
        .timeLimit(.minutes(1)))
    func downstreamRestarts() async throws {
        try await Self.withFlowingPush { downstream, upstream, _ in
            // The downstream relay goes, and a new process takes its port.
            downstream.process.signal(SIGTERM)
            #expect(await downstream.process.exitStatus(within: .seconds(10)) == 0)
            let replacement = try await RelayUnderTest.start(port: downstream.port)
            defer { replacement.stop() }
            let listening = ContinuousClock.now
            let resumed = await RelayAcceptanceTests.eventually(within: .seconds(15)) {
                Self.recordings(in: replacement.directory).first ?? 0 > 200_000
            }
            #expect(resumed, "the new relay's recordings: \(Self.recordings(in: replacement.directory))")
            print(
                "srt-relay push: the relay pushed to listening again → 200 KB recorded in \(.now - listening)")
            let events = upstream.process.lines.compactMap(RelayLog.decode).compactMap { $0["event"] as? String }
            #expect(events.filter { $0 == "push-connected" }.count == 2, "\(events)")
            #expect(events.contains("push-broken"), "\(events)")
        }
    }

    /// An upstream relay pushing cam1 to a downstream one with `--push-stall 1`, its publisher fed live
    /// (srt-live-transmit, which reconnects on its own, as an encoder that retries); once the downstream relay has
    /// recorded 200 KB, `fault` runs (with the upstream's line count before it), and then
    /// everything stops. The publisher's connection to the upstream relay must live through it all.
    static func withFlowingPush(
        _ fault: (_ downstream: RelayUnderTest, _ upstream: RelayUnderTest, _ lines: Int) async throws -> Void
    ) async throws {
        let downstream = try await RelayUnderTest.start()
        defer { downstream.stop() }
        let upstream = try await RelayUnderTest.start([
            "--record", "none", "--push", "cam1=srt://127.0.0.1:\(downstream.port)?streamid=cam1", "--push-stall", "1",
        ])
        defer { upstream.stop() }
        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(upstream.port)?mode=caller&streamid=cam1"])
        defer { publisher.terminate() }
        let stop = RelayReaderFaultTests.StopFlag()
        async let fed: Void = RelayReaderFaultTests.feedLive(publisher, until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        #expect(
            await RelayAcceptanceTests.eventually(within: .seconds(15)) {
                Self.recordings(in: downstream.directory).first ?? 0 > 200_000
            })
        try await fault(downstream, upstream, upstream.process.lines.count)
        stop.isSet.store(true, ordering: .relaxed)
        await fed
        let events = upstream.process.lines.compactMap(RelayLog.decode).compactMap { $0["event"] as? String }
        #expect(!events.contains("connection-closed"), "\(events)")
    }

    /// The `action` of each `push-stalled` line of `relay` from line `start` on.
    static func stallActions(_ relay: RelayUnderTest, since start: Int) -> [String] {
        relay.process.lines[start...].compactMap(RelayLog.decode).filter { $0["event"] as? String == "push-stalled" }
            .compactMap { $0["action"] as? String }
    }

    @Test(
        "the relay pushed to is killed and started again: the push calls it again within the stall limit",
        .timeLimit(.minutes(1)))
    func killedListenerCalledAgain() async throws {
        try await Self.withFlowingPush { downstream, upstream, lines in
            let killed = ContinuousClock.now
            downstream.process.signal(SIGKILL)
            _ = await downstream.process.exitStatus(within: .seconds(5))
            let replacement = try await RelayUnderTest.start(port: downstream.port)
            defer { replacement.stop() }
            let restarted = ContinuousClock.now - killed
            let (_, connected) = try await upstream.log.first("push-connected", since: lines, within: .seconds(15))
            let after = try #require(upstream.process.arrival(ofLine: connected)) - killed
            print("srt-relay push: the relay pushed to killed and started again → connected again \(after) after it")
            // 1 s without an acknowledgement, a call answered, 0.5 s more without one, the first backoff: about
            // 1.8 s; libsrt alone breaks the connection after over 5 s. Judged when the new relay listened in time to
            // answer that call.
            if restarted < .seconds(1) {
                #expect(Self.stallActions(upstream, since: lines).first == "reconnect")
                #expect(after < .milliseconds(4_500), "connected again \(after) after the kill")
            }
            // The new call makes no recording there (it asks to read): the push's reconnection makes the only one.
            let recorded = await RelayAcceptanceTests.eventually(within: .seconds(15)) {
                Self.recordings(in: replacement.directory).first ?? 0 > 200_000
            }
            #expect(Self.recordings(in: replacement.directory).count == 1)
            let said = [upstream, replacement].map {
                $0.process.lines.filter { !$0.contains("\"event\":\"status\"") }.suffix(20).joined(separator: "\n")
            }
            #expect(
                recorded,
                "recorded \(Self.recordings(in: replacement.directory)); upstream:\n\(said[0])\nnew:\n\(said[1])")
        }
    }

    @Test(
        "the relay pushed to stops answering mid-stream: the push keeps its connection, which carries on",
        .timeLimit(.minutes(1)))
    func silentListenerKept() async throws {
        try await Self.withFlowingPush { downstream, upstream, lines in
            // Stopped, not killed: nothing answers, as over a link that is down, and its sockets stay.
            downstream.process.signal(SIGSTOP)
            defer { downstream.process.signal(SIGCONT) }
            // Until the push has looked (about 2.2 s), and at most 4 s: at 5 s libsrt would break the connection.
            let looked = await RelayAcceptanceTests.eventually(within: .seconds(4)) {
                upstream.process.lines[lines...].contains { $0.contains("\"push-stalled\"") }
            }
            downstream.process.signal(SIGCONT)
            let before = Self.recordings(in: downstream.directory).first ?? 0
            #expect(
                await RelayAcceptanceTests.eventually(within: .seconds(15)) {
                    Self.recordings(in: downstream.directory).first ?? 0 > before + 200_000
                })
            if looked { #expect(Self.stallActions(upstream, since: lines).allSatisfy { $0 == "keep" }) }
            let said = upstream.process.lines[lines...].compactMap(RelayLog.decode)
            #expect(!said.contains { $0["event"] as? String == "push-connected" }, "the first connection carried on")
        }
    }

    @Test(
        "a push with the wrong passphrase ends with a line saying why; the upstream relay serves on, no secret shown",
        .timeLimit(.minutes(1)))
    func wrongPassphrase() async throws {
        let downstreamSecret = "downstream-secret-7"
        let pushSecret = "not-the-right-secret"
        let downstream = try await RelayUnderTest.start(
            ["--passphrase-env", "SRT_RELAY_TEST_SECRET"], environment: ["SRT_RELAY_TEST_SECRET": downstreamSecret])
        defer { downstream.stop() }
        let upstream = try await RelayUnderTest.start(
            [
                "--record", "none", "--push",
                "cam1=srt://127.0.0.1:\(downstream.port)?streamid=cam1&passphrase-env=SRT_RELAY_PUSH_SECRET",
            ], environment: ["SRT_RELAY_PUSH_SECRET": pushSecret])
        defer { upstream.stop() }
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(upstream.port)?mode=caller&streamid=cam1"])
        defer { publisher.terminate() }
        let stop = RelayReaderFaultTests.StopFlag()
        async let fed: Void = RelayReaderFaultTests.feedLive(publisher, until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        let ended = try await upstream.log.next("push-ended", within: .seconds(15))
        let reason = ended["reason"] as? String ?? ""
        #expect(reason.hasPrefix("gave up"), "\(ended)")
        // The publisher goes on: the upstream relay still counts its bytes.
        let before = try await upstream.log.next("status")["bytes"] as? Int ?? 0
        try await upstream.log.waitForBytes(before + 500_000)
        stop.isSet.store(true, ordering: .relaxed)
        await fed
        let output = upstream.process.lines.joined(separator: "\n") + upstream.process.standardError
        #expect(!output.contains(pushSecret) && !output.contains(downstreamSecret))
        #expect(!downstream.process.lines.contains { $0.contains("connection-opened") })
    }

    @Test(
        "the relay pushed to stops answering (SIGSTOP): the publisher and a local reader go on, byte for byte",
        .timeLimit(.minutes(1)))
    func stalledDownstream() async throws {
        let downstream = try await RelayUnderTest.start()
        defer { downstream.stop() }
        let upstream = try await RelayUnderTest.start([
            "--record", "none", "--push", "cam1=srt://127.0.0.1:\(downstream.port)", "--push-buffer", "64K",
        ])
        defer { upstream.stop() }
        let reader = try await InProcessReader(port: upstream.port, streamID: "read:cam1")
        defer { reader.close() }
        _ = try await upstream.log.next("connection-opened")
        // The first publisher starts the push; once it is connected, the relay it pushes to is stopped.
        let first = RelayAcceptanceTests.payload(seed: 0x61)
        try await RelayReaderTests.publish(
            first, as: "cam1", port: upstream.port, log: upstream.log, total: first.count)
        _ = try await upstream.log.first("push-connected", since: 0)
        downstream.process.signal(SIGSTOP)
        defer { downstream.process.signal(SIGCONT) }
        let second = RelayAcceptanceTests.payload(seed: 0x62)
        try await RelayReaderTests.publish(
            second, as: "cam1", port: upstream.port, log: upstream.log, total: first.count + second.count)
        let expected = first + second
        #expect(await RelayAcceptanceTests.eventually { reader.bytes.count >= expected.count })
        #expect(reader.bytes == expected, "\(reader.bytes.count) bytes read of \(expected.count)")
        let events = upstream.process.lines.compactMap(RelayLog.decode).compactMap { $0["event"] as? String }
        #expect(events.filter { $0 == "push-started" }.count == 1, "one push throughout: \(events)")
    }
}
