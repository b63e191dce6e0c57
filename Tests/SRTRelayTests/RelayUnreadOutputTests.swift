import Foundation
import SRTTestSupport
import Synchronization
import Testing

@testable import srt_relay

/// srt-relay with nobody reading its output: a full pipe on standard output or error must not stall the relay, its
/// tasks or libsrt's threads (which log through standard error). Lines are queued, then dropped and counted.
@Suite(
    "srt-relay with nobody reading its output",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayUnreadOutputTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    @Test(
        "standard output and error full and never read: the relay listens, records a 5 s stream whole and exits 0",
        .timeLimit(.minutes(1)))
    func recordsWithUnreadOutput() async throws {
        try await Self.recordWithUnreadOutput(messages: 2_400)
    }

    /// Records `messages` of 1456 bytes, two every 4 ms (500 a second), with both output pipes full and never read,
    /// and checks the recording is whole and the relay exits 0 promptly.
    static func recordWithUnreadOutput(messages: Int) async throws {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-unread-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Both pipes are full before the relay starts: its first line would block. Status lines every 0.1 s and the
        // library's log at debug keep adding lines the whole time.
        let relay = try TestProcess(
            binary,
            [
                // 1.5 s of latency: the stream must survive the stalls of a machine running every suite at once
                // (live mode drops what comes later than the latency; 400 ms lost 10 messages in one full run),
                // which is not what this test is about.
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1",
                "--latency", "1500", "--metrics-port", "\(metricsPort)", "--log-level", "debug",
            ],
            readsOutput: false)
        defer { relay.terminate() }
        // Its lines cannot be read: the metrics server says when it listens.
        let health = await HTTP.getReady(port: metricsPort, path: "/healthz", within: .seconds(10))
        try #require(health?.status == 200, "the relay listens although nobody reads its output")

        // Lines keep coming the whole time the stream lasts.
        let payload = [UInt8](unsafeUninitializedCapacity: messages * 1456) { buffer, count in
            for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index &* 17 &+ index >> 9) }
            count = buffer.count
        }
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=unread&latency=1500"])
        defer { publisher.terminate() }
        // srt-live-transmit drops what it reads before it is connected: filler messages until the relay counts one.
        let filler = [UInt8](repeating: 0xAA, count: 1456)
        var before = 0
        for _ in 0..<500 where before == 0 {
            _ = publisher.write(filler[...])
            try await Task.sleep(for: .milliseconds(20))
            before = await receivedBytes(metricsPort: metricsPort) ?? 0
        }
        try #require(before > 0, "the publisher got through")
        let started = ContinuousClock.now
        // After the payload, trailer messages: srt-live-transmit reads its input through a buffer of a few KiB and
        // sends what the buffer holds only once more input comes (or the input ends, and then it closes at once,
        // where live mode drops what its sender has not sent yet: the last messages, now and then). The trailer
        // pushes the payload's end out; how much of the trailer arrives does not matter.
        let trailer = [UInt8](repeating: 0xBB, count: 1456)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                defer { done.resume() }
                for (index, start) in stride(from: 0, to: payload.count, by: 1456).enumerated() {
                    guard publisher.write(payload[start..<min(start + 1456, payload.count)]) else { return }
                    if index % 2 == 1 { usleep(4000) }
                }
                for _ in 0..<100 {
                    guard publisher.write(trailer[...]) else { return }
                    usleep(2000)
                }
            }
        }
        // Fillers still in flight when `before` was read come first and count here too, and trailer messages
        // follow: the stream is in once the count passed the payload's size and has not moved for twice the
        // latency.
        var received = 0
        var moved = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let now = (await receivedBytes(metricsPort: metricsPort)).map { $0 - before } ?? received
            if now != received { (received, moved) = (now, .now) }
            if received >= payload.count && ContinuousClock.now - moved >= .seconds(3) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        print("srt-relay with unread output: \(received) bytes for \(payload.count) of payload in \(moved - started)")
        #expect(received >= payload.count)
        // Its input ends: it sends what is left of the trailer and leaves.
        publisher.closeInput()
        if await publisher.exitStatus(within: .seconds(5)) == nil { publisher.signal(SIGINT) }
        // Counted when the connection ends: libsrt's too-late drops, which a relay stalled by its output would show.
        var dropped: Int?
        for _ in 0..<200 where dropped == nil {
            if await metric("srt_relay_open_connections", metricsPort: metricsPort) == 0 {
                dropped = await metric("srt_relay_dropped_packets_total", metricsPort: metricsPort)
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(dropped == 0, "packets libsrt dropped as too late: \(dropped.map(String.init) ?? "unknown")")
        let stopping = ContinuousClock.now
        relay.signal(SIGTERM)
        let status = await relay.exitStatus(within: .seconds(3))
        let shutdown = (relay.exitedAt ?? .now) - stopping
        print("srt-relay with unread output: SIGTERM → exit \(status.map(String.init) ?? "none") in \(shutdown)")
        #expect(status == 0)
        #expect(shutdown < .seconds(2))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count == 1, "\(files)")
        let recorded = try [UInt8](Data(contentsOf: directory.appendingPathComponent(files.first ?? "")))
        // Filler messages, the whole payload, trailer messages. One Bool: a failed #expect on two large arrays
        // would compute their difference for minutes.
        let stream = Array(recorded[..<(recorded.count - trailing(0xBB, in: recorded, message: 1456))])
        let whole =
            stream.count >= payload.count && same(stream, at: stream.count - payload.count, payload[...])
            && stream.dropLast(payload.count).allSatisfy { $0 == 0xAA }
        #expect(whole, "\(difference(stream, payload: payload, filler: 0xAA, message: 1456))")
    }

    @Test(
        "the reader of standard output and error goes away mid-stream: the relay keeps recording and exits 0",
        .timeLimit(.minutes(1)))
    func readerGoesAway() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        // Forwarded rather than recorded: the receiver sees every byte as it arrives. And no metrics server:
        // swift-nio's sockets would ignore SIGPIPE for the whole process as a side effect.
        let receiver = try UDPReceiver()
        defer { receiver.close() }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--forward", "udp://127.0.0.1:\(receiver.port)", "--json",
                "--status-interval", "0.1", "--latency", "40",
            ],
            readsOutput: false)
        defer { relay.terminate() }
        let payload = RelayAcceptanceTests.payload(seed: 0x91)
        let half = payload.count / 2
        // Its lines cannot be read: the kernel says when its UDP port is bound (just before it listens).
        #expect(await RelayAcceptanceTests.eventually(within: .seconds(10)) { Self.isBound(udpPort: port) })
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=gone"])
        defer { publisher.terminate() }
        // srt-live-transmit drops what it reads before it is connected: filler messages until one arrives.
        let filler = [UInt8](repeating: 0xAA, count: 1456)
        var connected = false
        for _ in 0..<500 where !connected {
            await RelayAcceptanceTests.feed(publisher, filler, close: false)
            connected = await RelayAcceptanceTests.eventually(within: .milliseconds(20)) { !receiver.bytes.isEmpty }
        }
        try #require(connected, "the publisher got through")
        let start = receiver.bytes.count
        await RelayAcceptanceTests.feed(publisher, Array(payload[..<half]), close: false)
        #expect(
            await RelayAcceptanceTests.eventually(within: .seconds(10)) { receiver.bytes.count >= start + half },
            "\(receiver.bytes.count - start) of \(half) bytes forwarded")
        // The reader leaves: the writer blocked on the full pipe, and every status line after it, meet a closed pipe.
        relay.closeUnreadOutput()
        await RelayAcceptanceTests.feed(publisher, Array(payload[half...]), close: true)
        // Filler fed while the first one was on its way arrives after `start` was read: wait for the payload's end
        // itself, not for a count, or the signal below would cut off its last messages.
        let complete = await RelayAcceptanceTests.eventually(within: .seconds(10)) {
            let forwarded = receiver.bytes
            return forwarded.count >= start + payload.count && forwarded.suffix(payload.count).elementsEqual(payload)
        }
        #expect(complete, "\(receiver.bytes.count - start) bytes forwarded since the first, for \(payload.count)")
        relay.signal(SIGTERM)
        let status = await relay.exitStatus(within: .seconds(3))
        #expect(status == 0, "exit \(status.map(String.init) ?? "none") (141: killed by SIGPIPE)")
        // Filler, then the whole payload. One Bool: a failed #expect on two large arrays would compute their
        // difference for minutes.
        let forwarded = receiver.bytes
        let whole =
            forwarded.count >= payload.count && forwarded.suffix(payload.count).elementsEqual(payload)
            && forwarded.dropLast(payload.count).allSatisfy { $0 == 0xAA }
        #expect(whole, "\(forwarded.count) bytes forwarded for \(payload.count) of payload after filler")
    }

    /// Whether a UDP socket is bound to 127.0.0.1:`port` (from `/proc/net/udp`).
    static func isBound(udpPort port: Int) -> Bool {
        let table = (try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8)) ?? ""
        let local = "0100007F:" + String(format: "%04X", port)
        return table.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first == local[...] }
    }

    /// Waits (10 s at most) until `/metrics` counts `bytes` received.
    static func waitForReceived(_ bytes: Int, metricsPort: Int) async -> Bool {
        await waitForMetric("srt_relay_received_bytes_total", bytes, metricsPort: metricsPort)
    }

    /// Waits (10 s at most) until the series `name` in `/metrics` is at least `value`.
    static func waitForMetric(_ name: String, _ value: Int, metricsPort: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if await metric(name, metricsPort: metricsPort) ?? 0 >= value { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        // Once more: a starved pool may first run this task after the deadline.
        return await metric(name, metricsPort: metricsPort) ?? 0 >= value
    }

    @Test(
        "a queue on a pipe nobody reads: printing never waits, the lines beyond the bound are dropped and counted, and a notice says how many once the reader is back",
        .timeLimit(.minutes(1)))
    func queueDropsAndReports() async throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { for end in ends { close(end) } }
        TestProcess.fill(ends[1])
        let queue = OutputQueue(descriptor: ends[1]) { count in "NOTICE \(count) dropped\n" }
        // 20,000 lines of 100 bytes: the 64 KiB pipe 30 times over.
        let count = 20_000
        var slowest = Duration.zero
        for index in 0..<count {
            let line = String(format: "line %05d ", index) + String(repeating: "x", count: 88) + "\n"
            let before = ContinuousClock.now
            queue.enqueue(line)
            slowest = max(slowest, ContinuousClock.now - before)
        }
        let dropped = queue.dropped.load(ordering: .relaxed)
        print("output queue on a full pipe: \(dropped) of \(count) lines dropped, slowest enqueue \(slowest)")
        #expect(slowest < .milliseconds(200), "an enqueue waited for the reader")
        #expect(dropped >= count - 2 * OutputQueue.maxLines, "at most the queue and one batch held")

        // The reader comes back: everything kept arrives, in order, then the notice with the count. Read until the
        // notices so far account for every dropped line: on a loaded machine a first notice can come before the
        // last batches and their own notice.
        let reader = ends[0]
        let text = await withCheckedContinuation { (done: CheckedContinuation<String, Never>) in
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65_536)
                let deadline = ContinuousClock.now + .seconds(10)
                func accountedFor() -> Bool {
                    guard String(decoding: bytes.suffix(64), as: UTF8.self).hasSuffix(" dropped\n") else {
                        return false
                    }
                    let counted = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
                        line.hasPrefix("NOTICE ") ? Int(line.dropFirst(7).prefix { $0 != " " }) : nil
                    }
                    return counted.reduce(0, +) >= dropped
                }
                while ContinuousClock.now < deadline, !accountedFor() {
                    var poller = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
                    guard poll(&poller, 1, 50) > 0 else { continue }
                    let read = Foundation.read(reader, &buffer, buffer.count)
                    if read > 0 { bytes += buffer[..<read] }
                }
                done.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
        let lines = text.drop { $0 == "#" }.split(separator: "\n")
        // A writer thread that first ran after the queue was full takes a batch and writes a notice for what was
        // dropped until then before the next batch: on a loaded machine there can be more notices than one.
        let notices = lines.compactMap { line in
            line.hasPrefix("NOTICE ") ? Int(line.dropFirst(7).prefix { $0 != " " }) : nil
        }
        #expect(lines.last?.hasPrefix("NOTICE ") == true, "the notice comes last: \(lines.suffix(2))")
        #expect(notices.reduce(0, +) == dropped, "the notices \(notices) count the \(dropped) dropped lines")
        let kept = lines.filter { !$0.hasPrefix("NOTICE ") }
        #expect(kept.count + dropped == count, "\(kept.count) lines written, \(dropped) dropped")
        let numbers = kept.compactMap { Int($0.dropFirst(5).prefix(5)) }
        #expect(numbers.count == kept.count && numbers.first == 0, "whole lines, from the first")
        #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $0 < $1 }, "in order")
        #expect(await RelayAcceptanceTests.eventually { queue.isIdle })
    }

    /// `srt_relay_received_bytes_total` from `/metrics`, or `nil` when it cannot be read.
    /// Where `recorded` (filler messages, then `payload`) first departs from it, in whole messages: for a failure
    /// message that tells a lost message from a corrupt one.
    static func difference(_ recorded: [UInt8], payload: [UInt8], filler: UInt8, message: Int) -> String {
        let fillers = recorded.prefix { $0 == filler }.count / message
        let start = fillers * message
        let count = payload.count / message
        // Whether recorded message `at` (after the fillers) is payload message `index`.
        func matches(_ at: Int, _ index: Int) -> Bool {
            index < count && start + (at + 1) * message <= recorded.count
                && same(recorded, at: start + at * message, payload[(index * message)..<((index + 1) * message)])
        }
        let summary =
            "\(recorded.count) bytes recorded for \(payload.count) of payload after \(fillers) filler messages"
        guard let first = (0..<count).first(where: { !matches($0, $0) }) else { return summary + "; payload whole" }
        let present = (recorded.count - start) / message
        if first == present { return summary + "; it ends early: the last \(count - present) messages are missing" }
        let head = recorded.dropFirst(start + first * message).prefix(8).map { String($0, radix: 16) }
        let shape =
            matches(first, first + 1)
            ? "payload message \(first) is missing"
            : matches(first + 1, first) ? "an extra message before it" : "neither lost nor inserted"
        return summary + "; message \(first) of \(count) is the first that differs (\(shape); it begins \(head))"
    }

    /// How many bytes of whole `message`-sized messages made of `byte` end `bytes`.
    static func trailing(_ byte: UInt8, in bytes: [UInt8], message: Int) -> Int {
        var count = 0
        while count + message <= bytes.count,
            bytes[(bytes.count - count - message)...].prefix(message).allSatisfy({ $0 == byte })
        {
            count += message
        }
        return count
    }

    /// Whether `bytes` holds `expected` at `offset`, compared with `memcmp` (an element loop over tens of
    /// megabytes takes seconds in a debug build).
    static func same(_ bytes: [UInt8], at offset: Int, _ expected: ArraySlice<UInt8>) -> Bool {
        guard offset >= 0, offset + expected.count <= bytes.count else { return false }
        return bytes.withUnsafeBytes { whole in
            expected.withUnsafeBytes { part in
                part.isEmpty || memcmp(whole.baseAddress! + offset, part.baseAddress!, part.count) == 0
            }
        }
    }

    static func receivedBytes(metricsPort: Int) async -> Int? {
        await metric("srt_relay_received_bytes_total", metricsPort: metricsPort)
    }

    /// The value of the series `name` (without labels) in `/metrics`, or `nil` when it cannot be read.
    static func metric(_ name: String, metricsPort: Int) async -> Int? {
        guard let metrics = await HTTP.get(port: metricsPort, path: "/metrics") else { return nil }
        let line = metrics.body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { $0.split(separator: " ").last.flatMap { Double($0) }.map { Int($0) } }
    }
}
