import Foundation
import Synchronization
import Testing

/// Attacks on the recordings' claims: segment durations at a low bitrate, a disk that stalls instead of failing,
/// a recordings directory removed while space is low, a later segment's name already taken, and a shutdown while a
/// recording's close waits for its disk. Real publishers (srt-live-transmit), the built relay, a
/// file system made for each test.
@Suite(
    "srt-relay recordings under attack",
    .enabled(if: RelayBinary.path != nil, "build srt-relay first"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: RelayBinary.publisher), "needs srt-tools"),
    .enabled(if: getuid() == 0, "mounts a file system: needs root"))
struct RecordingAttackTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    @Test(
        "--segment-duration 0.5 at a low bitrate: a segment every 0.5 s of stream, not one per writer wakeup",
        .timeLimit(.minutes(1)))
    func segmentDurationAtLowBitrate() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        // The writer wakes at each fsync tick only: 0.9 s of this stream (26 kB) never fills a 64 KiB chunk.
        let relay = try TestProcess(
            binary,
            RelayRecordingTests.arguments(
                port: port, output: recordings, ["--segment-duration", "0.5", "--fsync-interval", "0.9"]))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=slow"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        // 141 messages of 1456 bytes (1092 whole 188-byte packets), one every 50 ms: 7 s at 29 kB/s.
        let messages = 141
        let payload: [UInt8] = (0..<(messages * 1456 / 188)).flatMap { packet -> [UInt8] in
            [0x47] + (1..<188).map { UInt8(truncatingIfNeeded: packet &* 13 &+ $0) }
        }
        let fed: Duration = await withCheckedContinuation { (done: CheckedContinuation<Duration, Never>) in
            Thread.detachNewThread {
                let started = ContinuousClock.now
                for index in 0..<messages {
                    guard publisher.write(payload[index * 1456..<(index + 1) * 1456]) else { break }
                    usleep(50_000)
                }
                // The end of the input: srt-live-transmit sends the read it still holds.
                publisher.closeInput()
                done.resume(returning: ContinuousClock.now - started)
            }
        }
        try await log.waitForBytes(payload.count)
        publisher.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: recordings).sorted()
        let segments = try names.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(recordings)/\($0)"))) }
        let seconds = Double(fed.components.seconds) + Double(fed.components.attoseconds) / 1e18
        print("srt-relay --segment-duration 0.5: \(seconds) s fed, \(names.count) segments of \(segments.map(\.count))")
        // A Bool: Swift Testing would diff two arrays of 10⁵ bytes for minutes when they differ.
        let whole = Array(segments.joined()) == payload
        #expect(whole, "the segments concatenated are the stream")
        // About one segment per 0.5 s of stream (14 for the 7 s fed); 75 % of that leaves room for a loaded
        // machine. The writer restarts a segment's clock when it rotates, at its next wakeup (the 0.9 s fsync tick),
        // so each segment lasts from one tick to the next: 0.9 s, 8 segments in all.
        #expect(
            names.count >= Int(seconds / 0.5 * 0.75),
            "\(names.count) segments for \(seconds) s of stream cut every 0.5 s; closed: \(closed)")
    }

    @Test(
        "a disk that stalls (frozen): a recording ended by its memory bound is closed within the close limit",
        .timeLimit(.minutes(1)),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/fsfreeze"), "needs fsfreeze"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/losetup"), "needs losetup"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4"), "needs mkfs.ext4"))
    func stalledDiskClose() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        // ext4 (tmpfs cannot be frozen); unmounted last, after the thaw and the relay's end.
        let disk = try await ThinDisk()
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        let relay = try TestProcess(binary, RelayRecordingTests.arguments(port: port, output: recordings))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=stalled"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        // Every write to the file system now blocks until it is thawed, as on a hung NFS or iSCSI volume.
        try await ThinDisk.run("/usr/sbin/fsfreeze", ["-f", disk.path])
        // Thawed before the relay is killed (its threads wait in the kernel until then) and before the unmount.
        defer { Self.thaw(disk.path) }
        // Fed until the recording ends at its 8 MiB bound; bounded: 30,000 messages (44 MB) at most.
        let stopFeeding = Atomic(false)
        defer { stopFeeding.store(true, ordering: .relaxed) }
        Thread.detachNewThread {
            let chunk = [UInt8](repeating: 0x47, count: 1456)[...]
            for index in 0..<30_000 where !stopFeeding.load(ordering: .relaxed) {
                guard publisher.write(chunk) else { return }
                if index % 16 == 15 { usleep(4000) }
            }
        }
        // The relay counts what it takes: past 8 MiB the recording has ended (the bound) and its close began.
        try await log.waitForBytes((8 << 20) - 2 * 1456, within: .seconds(30))
        let bound = ContinuousClock.now
        stopFeeding.store(true, ordering: .relaxed)
        // The close gives the rest up after 0.5 s (an output that failed); 10 s is far beyond it.
        let closed = try? await log.next("connection-closed", within: .seconds(10))
        print(
            "srt-relay on a frozen disk: \(closed.map { "\($0)" } ?? "no connection-closed line") \(ContinuousClock.now - bound) after 8 MiB"
        )
        #expect(closed != nil, "the recording's close waits for the frozen disk instead of giving up within its limit")
        // The status lines that follow (every 0.1 s): the connection the recording belonged to is no longer counted
        // as open. Waited for, as the table drops the connection just after its line: 20 lines or 2 s at most.
        var status: [String: Any] = [:]
        for _ in 0..<20 {
            guard let line = try? await log.next("status", within: .seconds(2)) else { break }
            status = line
            if status["connections"] as? Int == 0 { break }
        }
        #expect(status["connections"] as? Int == 0, "\(status)")
    }

    @Test(
        "--min-free: space back after the operator removed the recordings directory; publishers accepted again",
        .timeLimit(.minutes(1)))
    func minFreeAfterDirectoryRemoved() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        let relay = try TestProcess(
            binary, RelayRecordingTests.arguments(port: port, output: recordings, minFree: "2M"))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        try disk.fill(named: "filler", leaving: 1 << 20)
        _ = try await log.next("disk-space-low")
        // Space freed, and the (empty) recordings directory with it: the relay creates it for each recording.
        disk.remove("filler")
        #expect(rmdir(recordings) == 0)
        let back = try? await log.next("disk-space-ok", within: .seconds(5))
        #expect(back != nil, "3 MiB free, but the guard keeps its last reading of a directory it cannot measure")
        // Measured where the recordings go: the directory, created again.
        #expect(access(recordings, W_OK) == 0, "\(recordings) was not created again")
        let reason = await RelayHostilePeerTests.rejectReason(port: port, streamID: "after")
        #expect(reason == nil, "rejected with \(reason.map { "\($0)" } ?? "-") while 3 MiB are free")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    @Test(
        "--segment-size: a stray file with the name of a later segment does not end the recording",
        .timeLimit(.minutes(1)))
    func segmentNameTaken() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        try FileManager.default.createDirectory(atPath: recordings, withIntermediateDirectories: true)
        // What an earlier recording of the same stream in the same second left (its first segment already moved
        // away by an uploader, say): the second segment's name, for every second the test may start in.
        let now = time(nil)
        var strays: [String] = []
        for second in (now - 2)...(now + 40) {
            var parts = tm()
            var instant = second
            gmtime_r(&instant, &parts)
            let stamp = String(
                format: "%04d%02d%02dT%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                parts.tm_hour, parts.tm_min, parts.tm_sec)
            strays.append("taken-\(stamp)-000002.ts")
            #expect(FileManager.default.createFile(atPath: "\(recordings)/\(strays.last ?? "")", contents: nil))
        }
        let relay = try TestProcess(
            binary, RelayRecordingTests.arguments(port: port, output: recordings, ["--segment-size", "64K"]))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        let payload = RelayAcceptanceTests.payload(seed: 0x7A)
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=taken"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        // Fed from a task: a recording that ends early closes the connection, and the feed may then block on the
        // publisher's full pipe until the publisher leaves below.
        let feeding = Task { await RelayAcceptanceTests.feed(publisher, payload, close: true) }
        // Every byte taken, or the recording ended early (its line is there): 75 rounds, 15 s at most.
        for _ in 0..<75 where !relay.lines.contains(where: { $0.contains("\"connection-closed\"") }) {
            guard (try? await log.waitForBytes(payload.count, within: .milliseconds(200))) == nil else { break }
        }
        publisher.signal(SIGINT)
        await feeding.value
        let closed = try await log.next("connection-closed", within: .seconds(20))
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        // The second segment cannot be created (EEXIST is not retried, and no other name is tried): the recording
        // ends after its first 64 KiB with "output failed: create …: File exists".
        let reason = closed["reason"] as? String ?? ""
        #expect(reason.hasPrefix("publisher left"), "\(closed)")
        #expect(closed["bytes"] as? Int == payload.count, "\(closed)")
        // The taken name is skipped (-000001, -000003, …), and the stray files are never written to.
        let names = try FileManager.default.contentsOfDirectory(atPath: recordings).sorted()
        let files = try names.map { try Data(contentsOf: URL(fileURLWithPath: "\(recordings)/\($0)")) }
        // A Bool: Swift Testing would diff two arrays of 10⁵ bytes for minutes when they differ.
        let whole = Array(files.joined()) == payload
        #expect(whole, "the recording's segments concatenated are the stream (\(files.map(\.count)) bytes)")
        for (name, file) in zip(names, files) where strays.contains(name) {
            #expect(file.isEmpty, "\(name) was overwritten")
        }
        print("srt-relay with a later segment's name taken: \(names.filter { !strays.contains($0) })")
    }

    @Test(
        "SIGTERM while a recording that ended waits for its full disk: exit 0 within 2 s, the loss in its line",
        .timeLimit(.minutes(1)))
    func shutdownDuringCloseOnFullDisk() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        try FileManager.default.createDirectory(atPath: recordings, withIntermediateDirectories: true)
        let relay = try TestProcess(binary, RelayRecordingTests.arguments(port: port, output: recordings))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        try disk.fill(named: "filler")
        let payload = RelayAcceptanceTests.payload(seed: 0x7B)
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=late"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        // Its input stays open: at its end srt-live-transmit would leave by itself, and the close would begin while
        // this test still waits for the bytes (more than its 10 s on a loaded machine, so it was over before the
        // signal came).
        await RelayAcceptanceTests.feed(publisher, payload, close: false)
        _ = try await log.next("output-retrying")
        try await log.waitForBytes(payload.count)
        // The publisher leaves: the recording's close begins, with 10 s for the full disk to take the rest.
        publisher.signal(SIGINT)
        #expect(await publisher.exitStatus(within: .seconds(5)) != nil)
        // No line marks the close's start; a signal that came before it would make this test pass, never fail.
        try await Task.sleep(for: .seconds(1))
        let closedEarly = relay.lines.contains { $0.contains("\"connection-closed\"") }
        #expect(!closedEarly, "the close still waits: \(relay.lines.filter { $0.contains("\"connection-") })")
        let signalled = ContinuousClock.now
        relay.signal(SIGTERM)
        // The shutdown shortens the close to its 0.5 s; without that, the close keeps the 10 s it was given (the
        // writer is a task of its own that the shutdown's cancellation does not reach), and the deadline ends the
        // relay with 70 at 1.9 s.
        let status = await relay.exitStatus(within: .seconds(3))
        #expect(status == 0, "exit \(status.map { "\($0)" } ?? "none"): \(relay.lines.suffix(3))")
        // Timed where the exit happens (the process's own instant), not when this task noticed it.
        let exit = relay.exitedAt.map { $0 - signalled }
        print(
            "srt-relay: SIGTERM during a close on a full disk: exit \(status.map { "\($0)" } ?? "none") after \(exit.map { "\($0)" } ?? "-")"
        )
        let closed = relay.lines.compactMap(RelayLog.decode).first { $0["event"] as? String == "connection-closed" }
        let reason = (closed?["reason"] as? String) ?? "no connection-closed line"
        #expect(reason.contains("could not be written"), "\(reason)")
    }

    /// Thaws a frozen file system, blocking (cleanup runs in `defer`), at most 5 s.
    private static func thaw(_ path: String) {
        guard let process = try? TestProcess("/usr/sbin/fsfreeze", ["-u", path]) else { return }
        for _ in 0..<500 where process.exitedAt == nil { usleep(10_000) }
    }
}
