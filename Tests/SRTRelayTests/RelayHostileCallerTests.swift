import Foundation
import SRTTestSupport
import Synchronization
import Testing

/// srt-relay against callers that cannot become connections, with real peers (srt-live-transmit).
@Suite(
    "srt-relay under hostile callers",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayHostileCallerTests {
    static let secret = "the-right-passphrase"
    static let attackers = 4

    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    @Test(
        "4 callers repeating a wrong passphrase: the right publisher is recorded byte for byte, in within 1 s",
        .timeLimit(.minutes(1)))
    func wrongPassphraseFlood() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The relay's own connection cap, 64: what a flood used to fill.
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1",
                "--latency", "40", "--passphrase-env", "SRT_RELAY_TEST_SECRET",
            ],
            environment: ["SRT_RELAY_TEST_SECRET": Self.secret])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")

        let url = "srt://127.0.0.1:\(port)?mode=caller&latency=40"
        let flood = try (0..<Self.attackers).map { index in
            try TestProcess(
                RelayBinary.publisher,
                ["-q", "file://con", "\(url)&streamid=attacker/\(index)&passphrase=a-wrong-passphrase"])
        }
        let stopFeeding = Atomic(false)
        defer {
            stopFeeding.store(true, ordering: .relaxed)
            for attacker in flood { attacker.terminate() }
        }
        // A chunk every millisecond: srt-live-transmit reconnects after each rejection while it has input.
        for attacker in flood {
            Thread.detachNewThread {
                let chunk = [UInt8](repeating: 0x47, count: 1316)[...]
                // Bounded: a minute at most; ends with the attacker or the test.
                for _ in 0..<60_000 where !stopFeeding.load(ordering: .relaxed) {
                    guard attacker.write(chunk) else { return }
                    usleep(1_000)
                }
            }
        }
        // Three times the cap of rejected handshakes, of any reason, before the publisher comes (a second or two):
        // enough to fill the cap several times over if rejected handshakes kept their slots.
        let rejected = { flood.map { $0.standardError.components(separatedBy: "REJECT").count - 1 } }
        let flooded = await RelayAcceptanceTests.eventually(within: .seconds(10)) {
            rejected().reduce(0, +) >= 3 * 64
        }
        #expect(flooded, "rejections so far: \(rejected())")

        let payload = RelayAcceptanceTests.payload(seed: 0x5A)
        let started = ContinuousClock.now
        // A latency of 400 ms for the publisher (libsrt takes the larger of both sides'): a loaded test machine
        // stalls threads for longer than 40 ms, and live mode drops what comes later than its latency.
        let publisher = try TestProcess(
            RelayBinary.publisher,
            [
                "-q", "file://con",
                "srt://127.0.0.1:\(port)?mode=caller&latency=400&streamid=publisher&passphrase=\(Self.secret)",
            ])
        defer { publisher.terminate() }
        let opened = try await log.next("connection-opened", within: .seconds(10))
        let admittedAfter = (log.lastArrival ?? .now) - started
        print("srt-relay: publisher accepted \(admittedAfter) after it started, during a wrong-passphrase flood")
        #expect(opened["stream_id"] as? String == "publisher")
        #expect(admittedAfter < .seconds(1))
        await RelayAcceptanceTests.feed(publisher, payload, close: true)
        try await log.waitForBytes(payload.count)
        publisher.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        #expect(closed["bytes"] as? Int == payload.count)

        // Every attacker was told why, every time: libsrt's "incorrect passphrase", never the cap's overload.
        let texts = flood.map(\.standardError)
        let rejections = texts.map { $0.components(separatedBy: "REJECT").count - 1 }
        let forPassphrase = texts.map { $0.components(separatedBy: "Incorrect passphrase").count - 1 }
        print("srt-relay: attackers rejected \(rejections) times, \(forPassphrase) of them for the passphrase")
        #expect(forPassphrase.allSatisfy { $0 > 0 }, "\(forPassphrase)")
        #expect(forPassphrase == rejections)

        // libsrt's line per rejected handshake reaches the relay's output rate-limited: its first 5, then one
        // summary per 10 s.
        let output = relay.lines + relay.standardError.split(separator: "\n").map(String.init)
        let kmreq = output.filter { $0.contains("KMREQ result") }
        print("srt-relay: \(kmreq.count) lines about KMREQ for \(rejections.reduce(0, +)) rejected handshakes")
        #expect(kmreq.count <= 5 + 2, "\(kmreq.count) KMREQ lines")

        stopFeeding.store(true, ordering: .relaxed)
        for attacker in flood { attacker.terminate() }
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(2)) == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count == 1 && files[0].hasPrefix("publisher-"), "\(files)")
        let recorded = try [UInt8](Data(contentsOf: directory.appendingPathComponent(files.first ?? "")))
        #expect(recorded == payload)
    }
}
