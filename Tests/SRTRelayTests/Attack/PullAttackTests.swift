import Foundation
import SRTAdapter
import SRTTestSupport
import Synchronization
import Testing

/// A hostile reader against an edge with a `*` pull rule: every name it asks for would start one more outgoing
/// connection to the origin, each lingering after the reader left. `--max-pulls` bounds them.
@Suite(
    "srt-relay pulls under attack",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct PullAttackTests {
    @Test("readers asking for more names than --max-pulls: the rest are refused with a line, the readers stay")
    func namesAreCapped() async throws {
        let origin = try await RelayUnderTest.start(["--record", "none"])
        defer { origin.stop() }
        let edge = try await RelayUnderTest.start([
            "--record", "none", "--max-pulls", "2", "--pull", "*=srt://127.0.0.1:\(origin.port)",
        ])
        defer { edge.stop() }
        var readers: [InProcessReader] = []
        defer { for reader in readers { reader.close() } }
        for name in ["a", "b", "c", "d"] {
            readers.append(try await InProcessReader(port: edge.port, streamID: "read:\(name)"))
        }
        let refused = try await edge.log.next("pull-refused")
        #expect(refused["pulls"] as? Int == 2, "\(refused)")
        let events = { edge.process.lines.compactMap(RelayLog.decode).compactMap { $0["event"] as? String } }
        #expect(await RelayAcceptanceTests.eventually { events().filter { $0 == "pull-refused" }.count == 2 })
        #expect(events().filter { $0 == "pull-started" }.count == 2, "\(events())")
        // The refused readers wait connected, for a publisher of their own.
        #expect(readers.allSatisfy { $0.ending.withLock { $0 } == nil })
    }

    @Test(
        "a local publisher takes a pulled stream over (--takeover) and leaves: the readers there get the origin again",
        .timeLimit(.minutes(1)))
    func pullComesBackAfterLocalPublisher() async throws {
        signal(SIGPIPE, SIG_IGN)
        let origin = try await RelayUnderTest.start(["--record", "none"])
        defer { origin.stop() }
        let edge = try await RelayUnderTest.start([
            "--record", "none", "--takeover", "--pull", "cam1=srt://127.0.0.1:\(origin.port)",
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
        #expect(await RelayAcceptanceTests.eventually(within: .seconds(15)) { reader.bytes.count > 100_000 })

        // A local publisher replaces the pull's connection; the pull ends at its next connection.
        let local = try await SRTConnection.connect(
            try SRTCallerConfiguration(
                host: "127.0.0.1", port: edge.port, streamID: "publish:cam1", connectTimeout: .seconds(3)))
        let ended = try await edge.log.next("pull-ended", within: .seconds(15))
        #expect((ended["reason"] as? String ?? "").hasPrefix("published here"), "\(ended)")
        local.close()
        var closed = try await edge.log.next("connection-closed")
        while closed["role"] as? String != "publish" { closed = try await edge.log.next("connection-closed") }

        // What the edge held within its latency drains first; then nothing moves.
        let before = try await RelayPullTests.drained(reader, still: .milliseconds(1500))
        // The reader is still there and the origin still has the stream: it is pulled again.
        let resumed = await RelayAcceptanceTests.eventually(within: .seconds(15)) {
            reader.bytes.count > before + 100_000
        }
        #expect(resumed, "the edge's reader got \(reader.bytes.count - before) bytes after the local publisher left")
        #expect(reader.ending.withLock { $0 } == nil)
        stop.isSet.store(true, ordering: .relaxed)
        await fed
    }

    @Test(
        "a reader forging a long x-via starts the pull, the origin refuses its chain: the other readers still get it",
        .timeLimit(.minutes(1)))
    func forgedChainStrandsNoOne() async throws {
        signal(SIGPIPE, SIG_IGN)
        // The origin's port, free while the edge's pull tries it: the readers are both there when it answers.
        let first = try await RelayUnderTest.start(["--record", "none"])
        let port = first.port
        first.process.signal(SIGTERM)
        #expect(await first.process.exitStatus(within: .seconds(10)) == 0)
        first.stop()
        let edge = try await RelayUnderTest.start(["--record", "none", "--pull", "cam1=srt://127.0.0.1:\(port)"])
        defer { edge.stop() }
        // 7 relays: accepted here, but with the edge's id the origin counts 8 and refuses the pull (1508).
        let hostile = try await InProcessReader(port: edge.port, streamID: "#!::r=cam1,m=request,x-via=a.b.c.d.e.f.g")
        defer { hostile.close() }
        _ = try await edge.log.next("pull-started")
        let reader = try await InProcessReader(port: edge.port, streamID: "read:cam1")
        defer { reader.close() }
        let origin = try await RelayUnderTest.start(["--record", "none"], port: port)
        defer { origin.stop() }
        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=cam1"])
        defer { publisher.terminate() }
        let stop = RelayReaderFaultTests.StopFlag()
        async let fed: Void = RelayReaderFaultTests.feedLive(publisher, until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        let ended = try await edge.log.next("pull-ended", within: .seconds(20))
        #expect((ended["reason"] as? String ?? "").contains("1508"), "\(ended)")
        let received = await RelayAcceptanceTests.eventually(within: .seconds(15)) { reader.bytes.count > 100_000 }
        #expect(received, "the plain reader got \(reader.bytes.count) bytes")
        #expect(reader.ending.withLock { $0 } == nil)
        stop.isSet.store(true, ordering: .relaxed)
        await fed
    }
}
