import Foundation
import Testing

/// libsrt never frees a multiplexer whose receive thread died while it carried connections; srt-relay counts them
/// and, past `--max-leaked-multiplexers`, closes every recording and exits with 75 for a fresh process.
@Suite(
    "srt-relay leaked multiplexers",
    .enabled(if: RelayBinary.path != nil, "build srt-relay first"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: RelayBinary.publisher), "needs srt-tools"))
struct RelayLeakLimitTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    /// The limit the test sets: the third fault with a live connection passes it.
    static let limit = 2

    @Test(
        "faults with live streams: each kept multiplexer counted; past the limit, recordings closed and exit 75 in 2 s",
        .timeLimit(.minutes(1)))
    func exitsPastTheLimit() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1",
                "--latency", "40", "--chaos-on-signal", "--backoff-initial", "10", "--backoff-max", "1000",
                "--metrics-port", "\(metricsPort)", "--max-leaked-multiplexers", "\(Self.limit)",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        // The metrics server starts beside the listener: its line may come before "listening".
        _ = try await log.first("metrics", since: 0)

        var sent: [String: [UInt8]] = [:]
        var publishers: [TestProcess] = []
        defer { for publisher in publishers { publisher.terminate() } }
        var total = 0
        var exitTime: Duration?
        for fault in 1...(Self.limit + 1) {
            // A live stream on the listener, half of it delivered before the fault.
            let streamID = "leak\(fault)"
            let payload = RelayAcceptanceTests.payload(seed: UInt8(fault) &* 0x25)
            sent[streamID] = payload
            let publisher = try TestProcess(
                RelayBinary.publisher,
                ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"])
            publishers.append(publisher)
            let opened = try await log.next("connection-opened")
            #expect(opened["stream_id"] as? String == streamID)
            await RelayAcceptanceTests.feed(publisher, Array(payload[..<(payload.count / 2)]), close: false)
            try await log.waitForBytes(total + payload.count / 2)
            let beforeFault = log.mark
            let injected = ContinuousClock.now
            relay.signal(SIGUSR1)
            // Written after the fault: the relay may have restarted and listened again first.
            _ = try await log.first("chaos", since: beforeFault)
            let (lost, _) = try await log.first("connection-closed", since: beforeFault)
            #expect(lost["reason"] as? String == "lost with the listener's UDP socket")
            total += try #require(lost["bytes"] as? Int)
            publisher.terminate()
            if fault <= Self.limit {
                _ = try await log.next("listening")
                try await expectCounted(fault, log: log, relay: relay, metricsPort: metricsPort)
            } else {
                let status = await relay.exitStatus(within: .seconds(3))
                exitTime = (relay.exitedAt ?? .now) - injected
                let errors = await relay.standardErrorAtExit()
                #expect(status == 75, "\(errors)")
            }
        }
        let exitLine = try await log.next("exit", within: .seconds(1))
        #expect(exitLine["status"] as? Int == 75)
        #expect(exitLine["leaked_multiplexers"] as? Int == Self.limit + 1)
        print("srt-relay: fault \(Self.limit + 1) (past the limit) → exit 75 in \(exitTime.map { "\($0)" } ?? "-")")
        #expect(exitTime.map { $0 < .seconds(2) } == true)

        // Every recording closed: exactly the bytes the relay counted for it, a prefix of what was sent.
        let closed = relay.lines.compactMap(RelayLog.decode).filter { $0["event"] as? String == "connection-closed" }
        let recordings = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(recordings.count == Self.limit + 1, "\(recordings)")
        for (streamID, payload) in sent {
            let name = try #require(recordings.first { $0.hasPrefix(streamID + "-") && $0.hasSuffix(".ts") })
            let recorded = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
            let counted = closed.first { $0["stream_id"] as? String == streamID }?["bytes"] as? Int
            #expect(
                recorded.count == counted,
                "\(streamID): \(recorded.count) bytes recorded, \(String(describing: counted)) counted")
            #expect(recorded.count >= payload.count / 2, "\(streamID): \(recorded.count) bytes")
            #expect(recorded == Array(payload.prefix(recorded.count)), "\(streamID) is a prefix of what was sent")
        }
    }

    /// After `faults` faults with live connections: the status line, `/healthz` and `/metrics` say so, and the
    /// relay's process has that many libsrt send threads without a receive thread (the kept multiplexers).
    private func expectCounted(_ faults: Int, log: RelayLog, relay: TestProcess, metricsPort: Int) async throws {
        let since = log.mark
        // A status line comes every 0.1 s: one after the restart carries the new count.
        let counted = await RelayAcceptanceTests.eventually {
            relay.lines.dropFirst(since).compactMap(RelayLog.decode).contains {
                $0["event"] as? String == "status" && $0["leaked_multiplexers"] as? Int == faults
            }
        }
        #expect(counted, "no status line with \(faults) leaked multiplexers: \(relay.lines.suffix(3))")
        let health = await HTTP.get(port: metricsPort, path: "/healthz")
        #expect(
            health?.body == "ready\n\(faults) leaked multiplexer\(faults == 1 ? "" : "s") (exit past \(Self.limit))\n",
            "\(String(describing: health))")
        let metrics = await HTTP.get(port: metricsPort, path: "/metrics")
        #expect(
            metrics?.body.contains("\nsrt_leaked_multiplexers \(faults).0\n") == true, "\(String(describing: metrics))")
        let orphaned = await RelayAcceptanceTests.eventually { Self.orphanedSendThreads(of: relay.pid) == faults }
        #expect(orphaned, "\(Self.orphanedSendThreads(of: relay.pid)) send threads without a receive thread")
    }

    /// libsrt's send threads ("SRT:SndQ…") without a receive thread ("SRT:RcvQ…") in process `pid`: one per dead
    /// multiplexer it keeps.
    static func orphanedSendThreads(of pid: pid_t) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let names = tasks.map { (try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8)) ?? "" }
        return names.count { $0.hasPrefix("SRT:SndQ") } - names.count { $0.hasPrefix("SRT:RcvQ") }
    }
}
