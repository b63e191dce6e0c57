import Foundation
import Testing

/// srt-relay near its file-descriptor limit: each stream costs a descriptor (its recording), and a Swift process with
/// none left dies (libdispatch, Docs/srt-fault-model.md F). The relay refuses the publisher instead and lives.
@Suite(
    "srt-relay near its descriptor limit",
    .enabled(if: RelayBinary.path != nil, "build srt-relay first"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: RelayBinary.publisher), "needs srt-tools"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit"), "needs util-linux's prlimit"))
struct RelayDescriptorLimitTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    @Test(
        "room for two recordings above the reserve: the third publisher is refused in one line, the relay lives and records again once a stream ends",
        .timeLimit(.minutes(1)))
    func refusesNearTheLimit() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-fds-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0",
                "--latency", "40",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")

        // The relay's descriptors now, and the lowest soft limit that leaves 10 numbers free below it: the reserve
        // (8), one for the check itself, and two recordings' worth. (Descriptors above a limit stay open.)
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(relay.pid)/fd").compactMap { Int($0) }
        var limit = 0
        while limit - open.filter({ $0 < limit }).count < 10 { limit += 1 }
        let prlimit = try TestProcess("/usr/bin/prlimit", ["--pid", "\(relay.pid)", "--nofile=\(limit):"])
        let limited = await prlimit.exitStatus(within: .seconds(5))
        #expect(limited == 0)

        var publishers: [String: TestProcess] = [:]
        defer { for publisher in publishers.values { publisher.terminate() } }
        for streamID in ["a", "b", "c"] {
            publishers[streamID] = try TestProcess(
                RelayBinary.publisher,
                ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"])
            let event = streamID == "c" ? "connection-refused" : "connection-opened"
            let line = try await log.next(event, within: .seconds(5))
            #expect(line["stream_id"] as? String == streamID)
            if streamID == "c" {
                let error = line["error"] as? String ?? ""
                print("srt-relay at \(limit) descriptors: \(error)")
                #expect(error.contains("descriptors free"), "\(error)")
            }
        }
        let alive = await relay.exitStatus(within: .milliseconds(200)) == nil
        #expect(alive, "the relay lives")

        // A stream ends, its file is closed: the next publisher is recorded.
        publishers["a"]?.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        #expect(closed["stream_id"] as? String == "a")
        publishers["d"] = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=d"])
        let reopened = try await log.next("connection-opened", within: .seconds(5))
        #expect(reopened["stream_id"] as? String == "d")

        relay.signal(SIGTERM)
        let status = await relay.exitStatus(within: .seconds(3))
        let errors = await relay.standardErrorAtExit()
        #expect(status == 0, "\(errors)")
    }
}
