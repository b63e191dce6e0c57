import Foundation
import SRTTestSupport
import Testing

/// srt-relay as a user runs it: the built binary, real publishers (srt-live-transmit), a fault in the middle, the
/// recordings compared byte for byte, and the exit codes.
@Suite(
    "srt-relay acceptance",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayAcceptanceTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    /// 291,200 bytes (200 chunks of 1456, srt-live-transmit's stdin read) of a pattern that shows reordering,
    /// loss and duplication; `seed` makes each stream's bytes different.
    static func payload(seed: UInt8) -> [UInt8] {
        (0..<(200 * 1456)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) ^ seed }
    }

    @Test(
        "records a stream, survives fault B mid-stream, records the next stream, and exits 0 within 2 s on SIGTERM",
        .timeLimit(.minutes(1)))
    func recordsThroughAFault() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1",
                "--latency", "40", "--chaos-on-signal", "--backoff-initial", "10", "--backoff-max", "1000",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")

        // 1. A whole stream, closed by its publisher.
        let first = Self.payload(seed: 0x11)
        try await publish(first, streamID: "first", port: port, log: log, expectedTotal: first.count)

        // 2. A stream that loses its listener's UDP socket halfway.
        let second = Self.payload(seed: 0x22)
        let half = second.count / 2
        // No automatic reconnection: the relay listens again within milliseconds, and srt-live-transmit (which
        // reconnects by default) would otherwise start a new "second" stream with the rest of its input.
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=second"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        await Self.feed(publisher, Array(second[..<half]), close: false)
        try await log.waitForBytes(first.count + half)
        let beforeFault = log.mark
        let injected = ContinuousClock.now
        relay.signal(SIGUSR1)
        // The relay writes its "chaos" line after the fault, and may see the death first: any order.
        _ = try await log.first("chaos", since: beforeFault)
        let restart = try await log.next("restart")
        let relistened = try await log.next("listening")
        let recovery = (log.lastArrival ?? .now) - injected
        let (lost, _) = try await log.first("connection-closed", since: beforeFault)
        #expect(lost["reason"] as? String == "lost with the listener's UDP socket")
        #expect(relistened["attempt"] as? Int == 2)
        #expect(restart["reason"] as? String ?? "" != "")
        // The rest goes nowhere: the socket it went to is gone.
        await Self.feed(publisher, Array(second[half...]), close: true)
        publisher.terminate()
        print("srt-relay: fault B → listening again in \(recovery) (observed through the relay's lines)")
        #expect(recovery < .seconds(2))

        // 3. A whole stream after the recovery.
        let third = Self.payload(seed: 0x33)
        let secondBytes = try #require(lost["bytes"] as? Int)
        try await publish(
            third, streamID: "third", port: port, log: log, expectedTotal: first.count + secondBytes + third.count)

        // 4. SIGTERM while a publisher streams: its recording is flushed and closed, exit 0 within 2 s.
        let fourth = Self.payload(seed: 0x44)
        let streaming = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=fourth"])
        defer { streaming.terminate() }
        _ = try await log.next("connection-opened")
        await Self.feed(streaming, fourth, close: false)
        try await log.waitForBytes(first.count + secondBytes + third.count + fourth.count)
        let stopping = ContinuousClock.now
        relay.signal(SIGTERM)
        let status = await relay.exitStatus(within: .seconds(3))
        let shutdown = (relay.exitedAt ?? .now) - stopping
        print("srt-relay: SIGTERM with a live stream → exit \(status.map(String.init) ?? "none") in \(shutdown)")
        let errors = await relay.standardErrorAtExit()
        #expect(status == 0, "\(errors)")
        #expect(shutdown < .seconds(2))

        for line in relay.lines where !line.contains("\"event\":\"status\"") { print(line) }
        let recordings = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(recordings.count == 4, "\(recordings)")
        let recorded = { (prefix: String) throws -> [UInt8] in
            let name = try #require(recordings.first { $0.hasPrefix(prefix + "-") && $0.hasSuffix(".ts") })
            return try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
        }
        #expect(try recorded("first") == first)
        let partial = try recorded("second")
        #expect(partial.count >= half && partial.count <= second.count, "\(partial.count) bytes of the second")
        #expect(partial == Array(second.prefix(partial.count)), "the second recording is a prefix of what was sent")
        #expect(partial.count == secondBytes)
        #expect(try recorded("third") == third)
        #expect(try recorded("fourth") == fourth)
    }

    @Test("--forward: every message of a stream arrives as UDP datagrams, in order", .timeLimit(.minutes(1)))
    func forwardsToUDP() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let receiver = try UDPReceiver()
        defer { receiver.close() }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--forward", "udp://127.0.0.1:\(receiver.port)", "--json",
                "--status-interval", "0.1", "--latency", "40",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        let payload = Self.payload(seed: 0x55)
        try await publish(payload, streamID: "relayed", port: port, log: log, expectedTotal: payload.count)
        let complete = await Self.eventually { receiver.bytes.count >= payload.count }
        #expect(complete, "\(receiver.bytes.count) of \(payload.count) bytes")
        #expect(receiver.bytes == payload)
        relay.signal(SIGTERM)
        let code = await relay.exitStatus(within: .seconds(2))
        let errors = await relay.standardErrorAtExit()
        #expect(code == 0, "\(errors)")
    }

    /// Polls `condition` every 10 ms for at most `limit`.
    static func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test("systemd: READY=1 when listening, STATUS= on changes, WATCHDOG=1 pings, STOPPING=1", .timeLimit(.minutes(1)))
    func systemdNotify() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let notify = try NotifySocket()
        defer { notify.close() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            ["--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--chaos-on-signal"],
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        #expect(await Self.eventually { notify.messages.contains { $0.hasPrefix("READY=1\nSTATUS=listening on") } })
        relay.signal(SIGUSR1)
        _ = try await log.next("listening")
        #expect(await Self.eventually { notify.messages.contains { $0.hasPrefix("STATUS=backing off") } })
        #expect(await Self.eventually { notify.messages.filter { $0 == "WATCHDOG=1" }.count >= 3 })
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(2)) == 0)
        // STOPPING=1 after READY=1; a watchdog ping already on its way may still land after it (systemd ignores it).
        let messages = notify.messages
        let ready = messages.firstIndex { $0.hasPrefix("READY=1") }
        let stopping = messages.lastIndex(of: "STOPPING=1")
        #expect(ready != nil && stopping != nil && stopping! > ready!, "\(messages)")
        #expect(messages.suffix(from: (stopping ?? 0)).allSatisfy { $0 == "STOPPING=1" || $0 == "WATCHDOG=1" })
    }

    @Test(
        "--metrics-port: /healthz is 503 while the port is held and 200 once it listens; /metrics is Prometheus text",
        .timeLimit(.minutes(1)))
    func metricsAndHealth() async throws {
        let binary = try #require(RelayBinary.path)
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        // Another process's plain UDP socket holds the SRT port: the relay backs off until it is released.
        let holder = try UDPReceiver()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(holder.port)", "--output", directory.path, "--json", "--metrics-port",
                "\(metricsPort)", "--backoff-initial", "100", "--backoff-max", "300", "--status-interval", "0",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        // The metrics server starts beside the listener: its line may come after the first restart.
        _ = try await log.first("metrics", since: 0)
        _ = try await log.next("restart")
        let unhealthy = await HTTP.get(port: metricsPort, path: "/healthz")
        #expect(unhealthy?.status == 503, "\(String(describing: unhealthy))")
        // The state, then the count of dead multiplexers libsrt keeps.
        let unhealthyState = unhealthy?.body.split(separator: "\n").first.map(String.init)
        #expect(["backing-off", "starting"].contains(unhealthyState), "\(String(describing: unhealthy))")
        holder.close()
        _ = try await log.next("listening")
        let healthy = await HTTP.get(port: metricsPort, path: "/healthz")
        #expect(healthy?.status == 200)
        #expect(healthy?.body == "ready\n0 leaked multiplexers (exit past 100)\n")
        let metrics = try #require(await HTTP.get(port: metricsPort, path: "/metrics"))
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("# TYPE supervisor_restarts_total counter"))
        #expect(metrics.body.contains("srt_relay_open_connections"))
        let missing = await HTTP.get(port: metricsPort, path: "/nothing")
        #expect(missing?.status == 404)
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(2)) == 0)
    }

    @Test(
        "IPv6, a passphrase from a file, AES-256 and an allow-list: the allowed stream is recorded, another refused",
        .timeLimit(.minutes(1)))
    func encryptedIPv6AllowList() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = "passphrase-for-the-test"
        let secretFile = directory.appendingPathComponent("secret")
        try Data((secret + "\n").utf8).write(to: secretFile)
        let recordings = directory.appendingPathComponent("recordings")
        let relay = try TestProcess(
            binary,
            [
                "--listen", "[::1]:\(port)", "--output", recordings.path, "--json", "--status-interval", "0.1",
                "--passphrase-file", secretFile.path, "--key-length", "32", "--allow", "cam", "--latency", "40",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        let refused = try TestProcess(
            RelayBinary.publisher,
            [
                "-q", "file://con",
                "srt://[::1]:\(port)?mode=caller&streamid=other&passphrase=\(secret)&pbkeylen=32",
            ])
        defer { refused.terminate() }
        // The listener rejects it in the handshake (1403); srt-live-transmit then waits on its stdin, so give it a
        // second and end it. The first connection-opened line below must be the allowed one.
        try await Task.sleep(for: .seconds(1))
        refused.terminate()
        let payload = Self.payload(seed: 0x66)
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://[::1]:\(port)?mode=caller&streamid=cam&passphrase=\(secret)&pbkeylen=32"])
        defer { publisher.terminate() }
        let opened = try await log.next("connection-opened")
        #expect(opened["stream_id"] as? String == "cam")
        await Self.feed(publisher, payload, close: true)
        try await log.waitForBytes(payload.count)
        publisher.signal(SIGINT)
        _ = try await log.next("connection-closed")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(2)) == 0)
        #expect(!relay.lines.joined().contains(secret))
        #expect(!(await relay.standardErrorAtExit()).contains(secret))
        let files = try FileManager.default.contentsOfDirectory(atPath: recordings.path)
        #expect(files.count == 1 && files[0].hasPrefix("cam-"), "\(files)")
        let recorded = try [UInt8](Data(contentsOf: recordings.appendingPathComponent(files.first ?? "")))
        #expect(recorded == payload)
    }

    @Test("--chaos: fault B on a period, and the listener is back after each", .timeLimit(.minutes(1)))
    func periodicChaos() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--chaos", "0.4",
                "--status-interval", "0",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        for round in 1...3 {
            // Each fault's "chaos" line comes after the fault, so before or after the death's "restart" line.
            _ = try await log.next("restart")
            let back = try await log.next("listening")
            #expect(back["attempt"] as? Int ?? 0 >= 2, "round \(round)")
        }
        let faults = relay.lines.compactMap(RelayLog.decode).filter { $0["event"] as? String == "chaos" }
        #expect(faults.count >= 3)
        relay.signal(SIGINT)
        let code = await relay.exitStatus(within: .seconds(2))
        let errors = await relay.standardErrorAtExit()
        #expect(code == 0, "\(errors)")
    }

    /// Publishes `payload` with srt-live-transmit, waits until the relay counted `expectedTotal` bytes in all, then
    /// ends the publisher with SIGINT (it does not leave at the end of its input) and waits for the closed line.
    private func publish(
        _ payload: [UInt8], streamID: String, port: Int, log: RelayLog, expectedTotal: Int
    ) async throws {
        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"])
        defer { publisher.terminate() }
        let opened = try await log.next("connection-opened")
        #expect(opened["stream_id"] as? String == streamID)
        await Self.feed(publisher, payload, close: true)
        try await log.waitForBytes(expectedTotal)
        publisher.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        #expect(closed["stream_id"] as? String == streamID)
        #expect(closed["bytes"] as? Int == payload.count)
    }

    /// Writes `bytes` to the publisher's stdin from a Dispatch thread, paced like a live stream (about 40 Mbit/s:
    /// a burst would overflow the sender and live mode would drop it), 1456 bytes at a time.
    static func feed(_ publisher: TestProcess, _ bytes: [UInt8], close: Bool) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                defer { done.resume() }
                for (index, start) in stride(from: 0, to: bytes.count, by: 1456).enumerated() {
                    guard publisher.write(bytes[start..<min(start + 1456, bytes.count)]) else { return }
                    if index % 16 == 15 { usleep(4000) }
                }
                if close { publisher.closeInput() }
            }
        }
    }

    @Test(
        "bad flags and bad URLs: one line on standard error, exit 64, no trap",
        arguments: [
            ["--forward", "http://127.0.0.1:5000"], ["--forward", "udp://127.0.0.1"], ["--forward", "udp://host:5000"],
            ["--forward", "udp://127.0.0.1:70000"], ["--listen", "127.0.0.1:99999"], ["--listen", "not-an-address"],
            ["--latency", "-1"], ["--latency", "999999"], ["--key-length", "20"], ["--max-connections", "0"],
            ["--max-leaked-multiplexers", "2000000"],
            ["--backoff", "fibonacci"], ["--backoff-initial", "0"],
            ["--backoff-initial", "500", "--backoff-max", "10"],
            ["--jitter", "2"], ["--intensity", "five"], ["--intensity", "5/0"],
            ["--passphrase-env", "SRT_RELAY_UNSET"],
            ["--passphrase-file", "/nonexistent/secret"], ["--chaos", "0"], ["--status-interval", "-1"],
            ["--log-level", "loud"], ["--no-such-flag"], ["extra-argument"], ["--metrics-port", "0"],
            ["--metrics-port", "9100", "--metrics-address", "localhost"],
        ])
    func usageErrors(arguments: [String]) async throws {
        let binary = try #require(RelayBinary.path)
        let relay = try TestProcess(binary, arguments)
        defer { relay.terminate() }
        let status = await relay.exitStatus(within: .seconds(5))
        #expect(status == 64)
        let errors = await relay.standardErrorAtExit()
        #expect(errors.hasPrefix("srt-relay: ") && errors.hasSuffix("\n"), "\(errors)")
        #expect(errors.split(separator: "\n").count == 1, "\(errors)")
        #expect(relay.lines.isEmpty)
    }

    @Test("an output directory that cannot be created: one line, exit 73, nothing listens")
    func unwritableOutput() async throws {
        let binary = try #require(RelayBinary.path)
        let relay = try TestProcess(binary, ["--output", "/proc/srt-relay-cannot-be-here", "--listen", "127.0.0.1:0"])
        defer { relay.terminate() }
        #expect(await relay.exitStatus(within: .seconds(5)) == 73)
        let errors = await relay.standardErrorAtExit()
        #expect(errors.hasPrefix("srt-relay: --output: ") && errors.split(separator: "\n").count == 1, "\(errors)")
        #expect(relay.lines.isEmpty)
    }

    @Test("a short passphrase is refused without printing it")
    func passphraseNeverEchoed() async throws {
        let binary = try #require(RelayBinary.path)
        let relay = try TestProcess(
            binary, ["--passphrase-env", "SRT_RELAY_TEST_SECRET"], environment: ["SRT_RELAY_TEST_SECRET": "tiny-key"])
        defer { relay.terminate() }
        #expect(await relay.exitStatus(within: .seconds(5)) == 64)
        let errors = await relay.standardErrorAtExit()
        #expect(errors.contains("got 8"))
        #expect(!errors.contains("tiny-key"))
    }
}
