import Foundation
import SRTTestSupport
import Synchronization
import Testing

/// Pushes and pulls as an operator sees them: in `GET /v1/streams` (each stream's links), in the status lines, and
/// in `/metrics` (totals by kind). Three relays on loopback: `a` pushes cam1 on to `b`, and `c` pulls it from `b`
/// for its reader.
@Suite(
    "srt-relay chains in the API, status lines and metrics",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayChainOperationTests {
    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// The value of the series `name` whose labels include every pair of `labels`, from `/metrics`.
    static func series(_ name: String, _ labels: [String: String], metricsPort: Int) async -> Double? {
        guard let metrics = await HTTP.get(port: metricsPort, path: "/metrics") else { return nil }
        let line = metrics.body.split(separator: "\n").first { line in
            line.hasPrefix(name + "{") && labels.allSatisfy { line.contains("\($0.key)=\"\($0.value)\"") }
        }
        return line.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    /// cam1's links in `GET /v1/streams`.
    static func links(metricsPort: Int) async -> [[String: Any]] {
        let body = await HTTP.get(port: metricsPort, path: "/v1/streams")?.body ?? ""
        let document = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let streams = document?["streams"] as? [[String: Any]] ?? []
        return streams.first { $0["name"] as? String == "cam1" }?["links"] as? [[String: Any]] ?? []
    }

    @Test(
        "a push and a pull: connected in the API with their bytes, counted in the status lines and the metrics",
        .timeLimit(.minutes(1)))
    func pushAndPullShown() async throws {
        let (metricsA, metricsC) = (
            try FreePort.loopback(type: Int32(SOCK_STREAM.rawValue)),
            try FreePort.loopback(type: Int32(SOCK_STREAM.rawValue))
        )
        let b = try await RelayUnderTest.start(["--record", "none"])
        defer { b.stop() }
        let a = try await RelayUnderTest.start([
            "--record", "none", "--metrics-port", "\(metricsA)", "--push", "cam1=srt://127.0.0.1:\(b.port)",
        ])
        defer { a.stop() }
        let c = try await RelayUnderTest.start([
            "--record", "none", "--metrics-port", "\(metricsC)", "--pull", "*=srt://127.0.0.1:\(b.port)",
        ])
        defer { c.stop() }
        let reader = try await InProcessReader(port: c.port, streamID: "read:cam1")
        defer { reader.close() }
        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(a.port)?mode=caller&streamid=cam1"])
        defer { publisher.terminate() }
        let stop = RelayReaderFaultTests.StopFlag()
        async let fed: Void = RelayReaderFaultTests.feedLive(publisher, until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        #expect(await RelayAcceptanceTests.eventually(within: .seconds(15)) { reader.bytes.count > 200_000 })

        let push = try #require(await Self.links(metricsPort: metricsA).first)
        #expect(push["kind"] as? String == "push" && push["connected"] as? Bool == true, "\(push)")
        #expect(push["connects"] as? Int == 1 && (push["bytes"] as? Int ?? 0) > 200_000, "\(push)")
        #expect((push["remote"] as? String ?? "").contains("127.0.0.1:\(b.port)"), "\(push)")
        let pull = try #require(await Self.links(metricsPort: metricsC).first)
        #expect(pull["kind"] as? String == "pull" && pull["connected"] as? Bool == true, "\(pull)")
        #expect((pull["bytes"] as? Int ?? 0) > 200_000, "\(pull)")

        // Status lines from now on (the earlier ones predate the chain).
        let (statusA, _) = try await a.log.first("status", since: a.process.lines.count)
        #expect(statusA["pushes"] as? Int == 1 && statusA["pushes_connected"] as? Int == 1, "\(statusA)")
        let (statusC, _) = try await c.log.first("status", since: c.process.lines.count)
        #expect(statusC["pulls"] as? Int == 1 && statusC["pulls_connected"] as? Int == 1, "\(statusC)")

        let connectedPushes = await Self.series(
            "srt_relay_chain_links", ["kind": "push", "state": "connected"], metricsPort: metricsA)
        #expect(connectedPushes == 1)
        let pushedBytes = await Self.series("srt_relay_chain_bytes_total", ["kind": "push"], metricsPort: metricsA)
        #expect((pushedBytes ?? 0) > 200_000)
        let connectedPulls = await Self.series(
            "srt_relay_chain_links", ["kind": "pull", "state": "connected"], metricsPort: metricsC)
        #expect(connectedPulls == 1)
        // Each push and pull is a child of its group in the relay's tree.
        let treeA = await HTTP.get(port: metricsA, path: "/tree")?.body ?? ""
        let treeC = await HTTP.get(port: metricsC, path: "/tree")?.body ?? ""
        print("srt-relay chain trees:\n\(treeA)\n\(treeC)")
        #expect(Self.child(of: "pushes", in: treeA), "\(treeA)")
        #expect(Self.child(of: "pulls", in: treeC), "\(treeC)")
        stop.isSet.store(true, ordering: .relaxed)
        await fed
    }

    /// Whether `tree` (as `/tree` prints it) has the group `group` with one running child under it.
    static func child(of group: String, in tree: String) -> Bool {
        let lines = tree.split(separator: "\n")
        guard let index = lines.firstIndex(where: { $0.contains("─ \(group) (one for one)") }),
            index + 1 < lines.count
        else { return false }
        return lines[index + 1].contains("─ 1 (temporary): running")
    }
}
