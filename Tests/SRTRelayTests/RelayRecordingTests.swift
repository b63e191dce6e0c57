import Foundation
import Synchronization
import Testing

/// Recordings on a small disk made for each test (a tmpfs of a few MiB): a full disk that clears, rotation, and
/// the durability of what is written. Real publishers (srt-live-transmit), the built relay.
@Suite(
    "srt-relay recordings on a small disk",
    .enabled(if: RelayBinary.path != nil, "build srt-relay first"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: RelayBinary.publisher), "needs srt-tools"),
    .enabled(if: getuid() == 0, "mounts a tmpfs: needs root"))
struct RelayRecordingTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    @Test(
        "a disk full until a filler is deleted: the writes wait and retry, and the recording is whole",
        .timeLimit(.minutes(1)))
    func fullDiskThatClears() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        try FileManager.default.createDirectory(atPath: recordings, withIntermediateDirectories: true)
        let relay = try TestProcess(binary, Self.arguments(port: port, output: recordings))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        // Every byte taken: the recording's file can be created, but its first write fails with ENOSPC.
        try disk.fill(named: "filler")

        let payload = RelayAcceptanceTests.payload(seed: 0x71)
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=full"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        await RelayAcceptanceTests.feed(publisher, payload, close: true)
        let retrying = try await log.next("output-retrying")
        #expect(retrying["errno"] as? Int == Int(ENOSPC))
        try await log.waitForBytes(payload.count)
        // Space again: the held bytes and the rest are written.
        disk.remove("filler")
        _ = try await log.next("output-recovered")
        publisher.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        #expect(closed["bytes"] as? Int == payload.count)
        // "publisher left (2001)": srt-live-transmit closes its socket on SIGINT.
        #expect((closed["reason"] as? String ?? "").hasPrefix("publisher left"), "\(closed)")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: recordings)
        #expect(files.count == 1 && files[0].hasPrefix("full-"), "\(files)")
        let recorded = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(recordings)/\(files.first ?? "")")))
        #expect(recorded.count == payload.count)
        #expect(recorded == payload)
    }

    @Test(
        "a disk that stays full: the recording ends at its memory bound with the reason, counted; the relay goes on",
        .timeLimit(.minutes(1)))
    func fullDiskBound() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        try FileManager.default.createDirectory(atPath: recordings, withIntermediateDirectories: true)
        let relay = try TestProcess(binary, Self.arguments(port: port, output: recordings))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        try disk.fill(named: "filler")

        let publisher = try TestProcess(
            RelayBinary.publisher,
            // No reconnection with what it still has once the relay closed it.
            ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=bound"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        // Fed until the recording ends: more than the 8 MiB a recording may hold while its disk takes nothing, however
        // much a loaded machine makes live mode drop. Bounded: 30,000 messages (44 MB) at most.
        let stopFeeding = Atomic(false)
        defer { stopFeeding.store(true, ordering: .relaxed) }
        Thread.detachNewThread {
            let chunk = [UInt8](repeating: 0x47, count: 1456)[...]
            for index in 0..<30_000 where !stopFeeding.load(ordering: .relaxed) {
                guard publisher.write(chunk) else { return }
                if index % 16 == 15 { usleep(4000) }
            }
        }
        _ = try await log.next("output-retrying")
        let closed = try await log.next("connection-closed", within: .seconds(30))
        stopFeeding.store(true, ordering: .relaxed)
        publisher.terminate()
        let reason = closed["reason"] as? String ?? ""
        #expect(reason.hasPrefix("output failed: write "), "\(closed)")
        #expect(reason.contains("held in memory"), "\(closed)")
        #expect(closed["bytes"] as? Int ?? 0 >= (8 << 20) - 1456, "\(closed)")
        // Counted, and the relay goes on: once no connection is open, space again, and the next publisher is
        // recorded.
        var baseline: Int?
        for _ in 0..<200 where baseline == nil {
            let status = try await log.next("status")
            #expect(status["output_failures"] as? Int ?? 0 >= 1, "\(status)")
            if status["connections"] as? Int == 0 { baseline = status["bytes"] as? Int }
        }
        let before = try #require(baseline, "no connection open any more")
        disk.remove("filler")
        let next = RelayAcceptanceTests.payload(seed: 0x72)
        let successor = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=after"])
        defer { successor.terminate() }
        #expect(try await log.next("connection-opened")["stream_id"] as? String == "after")
        await RelayAcceptanceTests.feed(successor, next, close: true)
        try await log.waitForBytes(before + next.count)
        successor.signal(SIGINT)
        #expect(try await log.next("connection-closed")["bytes"] as? Int == next.count)
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: recordings)
        let after = try #require(files.first { $0.hasPrefix("after-") })
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(recordings)/\(after)"))) == next)
    }

    @Test(
        "--fsync-interval: a stream too slow to fill a 64 KiB chunk is on the disk within the interval",
        .timeLimit(.minutes(1)))
    func periodicFlush() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        let relay = try TestProcess(
            binary, Self.arguments(port: port, output: recordings, ["--fsync-interval", "0.2"]))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        // 20 messages, 29 kB: far less than a chunk, and the publisher stays connected.
        let payload = RelayAcceptanceTests.payload(seed: 0x73).prefix(20 * 1456)
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=slow"])
        defer { publisher.terminate() }
        let opened = try await log.next("connection-opened")
        let path = try #require(opened["to"] as? String)
        await RelayAcceptanceTests.feed(publisher, Array(payload), close: false)
        try await log.waitForBytes(payload.count)
        let counted = ContinuousClock.now
        let onDisk = await RelayAcceptanceTests.eventually(within: .seconds(3)) {
            (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == payload.count
        }
        print(
            "srt-relay: \(payload.count) bytes on the disk \(ContinuousClock.now - counted) after the relay counted them"
        )
        #expect(onDisk, "the file holds what was received, within the interval")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == Array(payload))
        publisher.signal(SIGINT)
        _ = try await log.next("connection-closed")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    @Test(
        "fsync fails for real on a thin-provisioned disk: a line and a count while live, and the closing reason",
        .timeLimit(.minutes(1)),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/losetup"), "needs losetup"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4"), "needs mkfs.ext4"))
    func fsyncFailure() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try await ThinDisk()
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        let relay = try TestProcess(
            binary, Self.arguments(port: port, output: recordings, ["--fsync-interval", "0.2"]))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        try disk.exhaust()
        // 2.9 MB: blocks ext4 allocates now and cannot write back.
        let payload = (0..<(2000 * 1456)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=thin"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        await RelayAcceptanceTests.feed(publisher, payload, close: true)
        let failed = try await log.next("output-error")
        let error = failed["error"] as? String ?? ""
        #expect(error.hasPrefix("fsync "), "\(failed)")
        #expect([Int(ENOSPC), Int(EIO)].contains(failed["errno"] as? Int ?? 0), "\(failed)")
        let status = try await log.next("status")
        #expect(status["output_failures"] as? Int ?? 0 >= 1, "\(status)")
        // Not every byte need arrive (live mode drops what a loaded machine delays): the failure is what counts.
        publisher.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        print("srt-relay: \(error); closed: \(closed["reason"] as? String ?? "")")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    @Test(
        "--min-free: a new publisher is refused with 1507 while space is low, /healthz says so, then accepted",
        .timeLimit(.minutes(1)))
    func minFreeRefusal() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        let relay = try TestProcess(
            binary,
            Self.arguments(
                port: port, output: recordings, minFree: "2M", ["--metrics-port", "\(metricsPort)"]))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        try disk.fill(named: "filler", leaving: 1 << 20)
        let low = try await log.next("disk-space-low")
        #expect(low["min_free_bytes"] as? Int == 2 << 20, "\(low)")
        // Below the minimum: the watch may measure while the filler is still being written (1.79 MB read once
        // under load), so not necessarily the 1 MiB the filler leaves.
        #expect(low["available_bytes"] as? Int ?? .max < 2 << 20, "\(low)")
        let health = await HTTP.get(port: metricsPort, path: "/healthz")
        // The first line says why; the second counts leaked multiplexers.
        #expect(
            health?.status == 503 && health?.body.hasPrefix("disk-space-low\n") == true,
            "\(String(describing: health))")

        // srt-live-transmit is rejected (it does not print the number); the adapter's caller reads 1507.
        let refused = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=refused"])
        defer { refused.terminate() }
        _ = refused.write(RelayAcceptanceTests.payload(seed: 0x74).prefix(1456 * 4))
        let rejected = await RelayAcceptanceTests.eventually {
            refused.standardError.contains("REJECT") && refused.standardError.contains("rejection reason")
        }
        #expect(rejected, "\(refused.standardError.prefix(400))")
        refused.terminate()
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "refused") == 1507)
        #expect(!relay.lines.contains { $0.contains("\"connection-opened\"") })

        // Space again: the next publisher is recorded.
        disk.remove("filler")
        _ = try await log.next("disk-space-ok")
        #expect(await HTTP.get(port: metricsPort, path: "/healthz")?.status == 200)
        let payload = RelayAcceptanceTests.payload(seed: 0x75)
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=later"])
        defer { publisher.terminate() }
        #expect(try await log.next("connection-opened")["stream_id"] as? String == "later")
        await RelayAcceptanceTests.feed(publisher, payload, close: true)
        try await log.waitForBytes(payload.count)
        publisher.signal(SIGINT)
        #expect(try await log.next("connection-closed")["bytes"] as? Int == payload.count)
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: recordings)
        #expect(files.count == 1 && files[0].hasPrefix("later-"), "\(files)")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(recordings)/\(files.first ?? "")"))) == payload)
    }

    @Test(
        "--min-free: a live recording ends cleanly when space runs low, as an exact prefix of the stream",
        .timeLimit(.minutes(1)))
    func minFreeEndsRecording() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        let relay = try TestProcess(binary, Self.arguments(port: port, output: recordings, minFree: "3M"))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        // 2.9 MB into 4 MiB that must keep 3 MiB free: the recording ends after about 1 MiB.
        let payload = (0..<(2000 * 1456)).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ $0 >> 12) }
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=filling"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        async let fed: Void = RelayAcceptanceTests.feed(publisher, payload, close: true)
        let closed = try await log.next("connection-closed", within: .seconds(20))
        await fed
        let reason = closed["reason"] as? String ?? ""
        #expect(reason.hasPrefix("disk space low: "), "\(closed)")
        #expect(reason.contains("below --min-free 3 MiB"), "\(closed)")
        let (low, _) = try await log.first("disk-space-low", since: 0)
        #expect(low["directory"] as? String == recordings)
        let status = try await log.next("status")
        #expect(status["output_failures"] as? Int == 1, "\(status)")
        // A new publisher is refused meanwhile.
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "next") == 1507)
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: recordings)
        let recorded = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(recordings)/\(files.first ?? "")")))
        print("srt-relay: recording ended at \(recorded.count) bytes, \(disk.available) bytes free: \(reason)")
        #expect(recorded.count == closed["bytes"] as? Int, "every byte taken was written")
        #expect(recorded.count >= 1 << 20 && recorded.count < payload.count, "\(recorded.count)")
        // What arrived, in order: an exact prefix of the stream, or, where a loaded machine made live mode drop a
        // message, the messages that arrived (1456 bytes each, as srt-live-transmit reads them), in their order.
        var next = 0
        var inOrder = recorded.count % 1456 == 0
        for start in stride(from: 0, to: recorded.count, by: 1456) where inOrder {
            let message = recorded[start..<start + 1456]
            let found = (next..<2000).first { payload[$0 * 1456..<($0 + 1) * 1456] == message }
            inOrder = found != nil
            next = (found ?? next) + 1
        }
        #expect(inOrder, "the stream's messages in their order")
        if next == recorded.count / 1456 {
            #expect(recorded == Array(payload.prefix(recorded.count)), "an exact prefix of the stream")
        }
    }

    @Test(
        "--segment-size: numbered segments cut at 188-byte packet boundaries; concatenated, they are the stream",
        .timeLimit(.minutes(1)))
    func rotationBySize() async throws {
        let segments = try await recordInSegments(["--segment-size", "100000"], pause: 4_000)
        // 100000 rounds down to 531 packets (99828 bytes): 273,728 bytes make two full segments and the rest.
        #expect(segments.map(\.count) == [99_828, 99_828, 74_072], "\(segments.map(\.count))")
    }

    @Test(
        "--segment-duration: numbered segments cut at 188-byte packet boundaries; concatenated, they are the stream",
        .timeLimit(.minutes(1)))
    func rotationByDuration() async throws {
        // At least 0.66 s of stream (60 ms after every 16 of 188 messages), cut every 0.2 s: at least 3 segments.
        let segments = try await recordInSegments(["--segment-duration", "0.2"], pause: 60_000)
        #expect(segments.count >= 3, "\(segments.map(\.count))")
    }

    /// Records an MPEG-TS-like stream (1456 packets of 188 bytes, each beginning with 0x47: 188 reads of 1456 bytes
    /// for srt-live-transmit, which sends whole reads only) with `flags`, fed 16 messages at a time with `pause` µs
    /// between; checks what every rotation must give, and returns the segments in name order.
    private func recordInSegments(_ flags: [String], pause: UInt32) async throws -> [[UInt8]] {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let disk = try SmallFileSystem(size: 4 << 20)
        defer { disk.unmount() }
        let recordings = "\(disk.path)/recordings"
        let relay = try TestProcess(binary, Self.arguments(port: port, output: recordings, flags))
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        let payload: [UInt8] = (0..<1456).flatMap { packet -> [UInt8] in
            [0x47] + (1..<188).map { UInt8(truncatingIfNeeded: packet &* 31 &+ $0) }
        }
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=cut"])
        defer { publisher.terminate() }
        let opened = try await log.next("connection-opened")
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                defer { done.resume() }
                for (index, start) in stride(from: 0, to: payload.count, by: 1456).enumerated() {
                    guard publisher.write(payload[start..<min(start + 1456, payload.count)]) else { return }
                    if index % 16 == 15 { usleep(pause) }
                }
                // The end of the input: srt-live-transmit sends its last, partial read.
                publisher.closeInput()
            }
        }
        try await log.waitForBytes(payload.count)
        publisher.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        #expect(closed["bytes"] as? Int == payload.count)
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)

        let names = try FileManager.default.contentsOfDirectory(atPath: recordings).sorted()
        let segments = try names.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(recordings)/\($0)"))) }
        print("srt-relay \(flags.joined(separator: " ")): \(names.count) segments of \(segments.map(\.count)) bytes")
        // Named so that they sort in order: the first is the one the opened line named, then -000002, …
        #expect(opened["to"] as? String == "\(recordings)/\(names.first ?? "")")
        #expect(names.enumerated().allSatisfy { $1.hasSuffix(String(format: "-%06d.ts", $0 + 1)) }, "\(names)")
        #expect(closed["segments"] as? Int == names.count)
        #expect(names.count >= 2)
        // Not a byte lost or doubled across the cuts; each cut at a packet boundary.
        #expect(Array(segments.joined()) == payload, "the segments concatenated are the stream")
        #expect(segments.dropLast().allSatisfy { $0.count % 188 == 0 }, "\(segments.map(\.count))")
        #expect(segments.allSatisfy { $0.first == 0x47 })
        return segments
    }

    @Test(
        "bad recording flags: one line on standard error, exit 64",
        arguments: [
            ["--fsync-interval", "-1"], ["--fsync-interval", "0.01"], ["--fsync-interval", "3601"],
            ["--fsync-interval", "nan"], ["--fsync-interval", "5s"], ["--min-free", "-1"], ["--min-free", "2X"],
            ["--min-free", "101%"], ["--min-free", "%"], ["--min-free", "1e3"], ["--min-free", "2EiB"],
            ["--segment-size", "1000"], ["--segment-size", "2T"], ["--segment-size", "big"],
            ["--segment-duration", "0"], ["--segment-duration", "-1"], ["--segment-duration", "86401"],
            ["--segment-duration", "nan"],
        ])
    func flagErrors(arguments: [String]) async throws {
        let binary = try #require(RelayBinary.path)
        let relay = try TestProcess(binary, arguments + ["--listen", "127.0.0.1:0"])
        defer { relay.terminate() }
        #expect(await relay.exitStatus(within: .seconds(5)) == 64)
        let errors = await relay.standardErrorAtExit()
        #expect(errors.hasPrefix("srt-relay: ") && errors.split(separator: "\n").count == 1, "\(errors)")
        #expect(errors.contains(arguments[0]), "\(errors)")
    }

    /// The relay's flags for these tests: JSON lines, a status line every 0.1 s (``RelayLog/waitForBytes``), a
    /// latency of 400 ms, so that a loaded machine's stalls do not make live mode drop what the test compares, and
    /// no free-space guard unless `minFree` says otherwise (the default 1 GiB is more than these disks hold).
    static func arguments(port: Int, output: String, minFree: String = "0", _ more: [String] = []) -> [String] {
        [
            "--listen", "127.0.0.1:\(port)", "--output", output, "--json", "--status-interval", "0.1", "--latency",
            "400",
            "--min-free", minFree,
        ] + more
    }
}
