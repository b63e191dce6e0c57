import Foundation
import SRTAdapter
import SRTTestSupport
import Testing

/// srt-relay facing publishers that mean harm or make mistakes: stream ids built to forge or colour the operator's
/// lines, and a second publisher on a forwarding relay. Real callers (srt-live-transmit) against the built binary.
@Suite(
    "srt-relay with hostile peers",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayHostilePeerTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    /// A stream id that would colour the terminal red, forge a line of its own, ring the bell, clear the screen
    /// (C1 CSI) and reverse the rest of the line (a right-to-left override).
    static let hostileStreamID = "cam\u{1B}[31mRED\n12:00:00.000 + forged\rline\u{07}\u{9B}2J\u{202E}txt"

    /// Whether `text` holds a character a terminal acts on, other than the newline that ends a line.
    static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            scalar != "\n"
                && (scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                    || (0x202A...0x202E).contains(scalar.value))
        }
    }

    @Test(
        "a stream id with a newline, ANSI escapes and other control characters is escaped in every text line, the log and the file name",
        .timeLimit(.minutes(1)))
    func hostileStreamIDIsEscaped() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-hostile-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Text lines (no --json), and the library's log at its most talkative.
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--status-interval", "0", "--latency",
                "40", "--log-level", "trace",
            ])
        defer { relay.terminate() }
        // The lines whose text (after the time and a space) starts with `start`.
        let lines = { (start: String) in
            relay.lines.filter { $0.split(separator: " ", maxSplits: 1).last?.hasPrefix(start) == true }
        }
        #expect(await RelayAcceptanceTests.eventually { !lines("listening on ").isEmpty })
        let publisher = try TestProcess(
            RelayBinary.publisher,
            ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(Self.hostileStreamID)"])
        defer { publisher.terminate() }
        #expect(await RelayAcceptanceTests.eventually { !lines("+ cam").isEmpty })
        await RelayAcceptanceTests.feed(publisher, RelayAcceptanceTests.payload(seed: 0x77), close: true)
        publisher.signal(SIGINT)
        #expect(await RelayAcceptanceTests.eventually { !lines("- cam").isEmpty })
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
        let errors = await relay.standardErrorAtExit()

        for line in relay.lines { print(line) }
        let escaped = #"cam\u{1B}[31mRED\n12:00:00.000 + forged\rline\u{7}\u{9B}2J\u{202E}txt"#
        let opened = lines("+ ")
        #expect(opened.count == 1, "one opened line, none forged: \(opened)")
        #expect(opened.first?.contains(escaped + " from 127.0.0.1:") == true, "\(opened)")
        #expect(lines("- \(escaped) from 127.0.0.1:").count == 1)
        let output = relay.lines.joined(separator: "\n")
        #expect(!Self.hasControlCharacters(output), "standard output holds control characters")
        #expect(!Self.hasControlCharacters(errors), "standard error holds control characters")
        #expect(!output.contains("forged\n") && !errors.contains("forged\n"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count == 1, "\(files)")
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        #expect(files.allSatisfy { $0.allSatisfy(safe.contains) }, "\(files)")
    }

    @Test(
        "one warning line at start when the listener is reachable from other hosts with neither a passphrase nor an allow list",
        arguments: [
            (["--listen", "0.0.0.0:0"], true), (["--listen", "127.0.0.1:0"], false), (["--listen", "[::1]:0"], false),
            (["--listen", "0.0.0.0:0", "--allow", "cam"], false),
            (["--listen", "0.0.0.0:0", "--passphrase-env", "SRT_RELAY_TEST_SECRET"], false),
        ])
    func warnsWhenOpen(arguments: [String], warns: Bool) async throws {
        let binary = try #require(RelayBinary.path)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-open-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Port 0: the kernel picks a free one; nothing but this test talks to it.
        let relay = try TestProcess(
            binary, arguments + ["--output", directory.path, "--json", "--status-interval", "0"],
            environment: ["SRT_RELAY_TEST_SECRET": "a passphrase long enough"])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        let warnings = relay.lines.compactMap(RelayLog.decode).filter { $0["event"] as? String == "warning" }
        #expect(warnings.count == (warns ? 1 : 0), "\(relay.lines)")
        if warns {
            #expect(warnings.first?["warning"] as? String == "open-listener")
            #expect(warnings.first?["address"] as? String == "0.0.0.0:0")
        }
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    @Test(
        "--forward carries one publisher at a time: a second is refused with 1409 and never mixed into the first one's datagrams",
        .timeLimit(.minutes(1)))
    func forwardIsPerPublisher() async throws {
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

        // The first publisher streams half of its payload…
        let first = RelayAcceptanceTests.payload(seed: 0x81)
        let half = first.count / 2
        let owner = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=first"])
        defer { owner.terminate() }
        #expect(try await log.next("connection-opened")["stream_id"] as? String == "first")
        await RelayAcceptanceTests.feed(owner, Array(first[..<half]), close: false)
        try await log.waitForBytes(half)

        // …a second publisher sends all of its own meanwhile, and a caller asks to publish too: it is told why not.
        let intruder = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=second"])
        defer { intruder.terminate() }
        await RelayAcceptanceTests.feed(intruder, RelayAcceptanceTests.payload(seed: 0x82), close: false)
        let refusal = await Self.rejectReason(port: port, streamID: "third")
        #expect(refusal == SRTRejectReason.conflict.code, "the third caller's reject reason")
        // Gone before the target frees up: srt-live-transmit retries a refused connection by itself.
        intruder.terminate()

        // The first publisher finishes; every datagram so far is its own, in order.
        await RelayAcceptanceTests.feed(owner, Array(first[half...]), close: true)
        try await log.waitForBytes(first.count)
        owner.signal(SIGINT)
        #expect(try await log.next("connection-closed")["stream_id"] as? String == "first")
        #expect(await RelayAcceptanceTests.eventually { receiver.bytes.count >= first.count })
        // Compared as one Bool: a failed #expect on two large arrays would compute their difference for minutes.
        let onlyFirst = receiver.bytes == first
        #expect(onlyFirst, "\(receiver.bytes.count) bytes forwarded, \(first.count) published")
        let opened = relay.lines.compactMap(RelayLog.decode).filter { $0["event"] as? String == "connection-opened" }
        #expect(opened.count == 1, "only the first publisher was forwarded: \(opened)")

        // The target is free again: the next publisher is forwarded.
        let next = RelayAcceptanceTests.payload(seed: 0x83)
        let successor = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=next"])
        defer { successor.terminate() }
        #expect(try await log.next("connection-opened", within: .seconds(5))["stream_id"] as? String == "next")
        await RelayAcceptanceTests.feed(successor, next, close: true)
        #expect(await RelayAcceptanceTests.eventually { receiver.bytes.count >= first.count + next.count })
        let both = receiver.bytes == first + next
        #expect(both, "\(receiver.bytes.count) bytes forwarded, \(first.count + next.count) published")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    /// Connects to the relay as a publisher with the adapter's caller and returns the reject reason, or `nil` when
    /// the caller was accepted (then closed) or failed otherwise.
    static func rejectReason(port: Int, streamID: String) async -> Int32? {
        do {
            let configuration = try SRTCallerConfiguration(
                host: "127.0.0.1", port: port, streamID: streamID, connectTimeout: .seconds(2))
            let connection = try await SRTConnection.connect(configuration)
            connection.close()
            return nil
        } catch let error as SRTError {
            return error.rejectReason
        } catch {
            return nil
        }
    }
}
