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
        let downstream = try await RelayUnderTest.start()
        defer { downstream.stop() }
        let upstream = try await RelayUnderTest.start([
            "--record", "none", "--push", "cam1=srt://127.0.0.1:\(downstream.port)?streamid=cam1",
        ])
        defer { upstream.stop() }
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(upstream.port)?mode=caller&streamid=cam1"])
        defer { publisher.terminate() }
        let stop = RelayReaderFaultTests.StopFlag()
        async let fed: Void = RelayReaderFaultTests.feedLive(publisher, until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        #expect(
            await RelayAcceptanceTests.eventually(within: .seconds(15)) {
                Self.recordings(in: downstream.directory).first ?? 0 > 200_000
            })

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
            "srt-relay push: the relay pushed to listening again → 200 KB recorded in \(ContinuousClock.now - listening)"
        )
        stop.isSet.store(true, ordering: .relaxed)
        await fed
        let lines = upstream.process.lines.compactMap(RelayLog.decode)
        let events = lines.compactMap { $0["event"] as? String }
        #expect(events.filter { $0 == "push-connected" }.count == 2, "\(events)")
        #expect(events.contains("push-broken"), "\(events)")
        // The publisher's connection to the upstream relay lived through it all.
        #expect(!events.contains("connection-closed"), "\(events)")
        publisher.terminate()
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
