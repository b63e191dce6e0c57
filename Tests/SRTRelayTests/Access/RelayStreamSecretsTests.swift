import Foundation
import SRTAdapter
import SRTTestSupport
import Testing

/// `--config` with real peers: per-stream passphrases for publishers and readers, networks, and SIGHUP reloads that
/// keep every connection; no secret in any output.
@Suite(
    "srt-relay per-stream secrets",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayStreamSecretsTests {
    static let publishSecret = "publisher-secret-1"
    static let readSecret = "viewer-secret-1"
    static let newReadSecret = "viewer-secret-2"

    static func file(readSecret: String) -> String {
        """
        {"streams": {
          "cam1": {"publish": {"passphrase": "\(publishSecret)"}, "read": {"passphrase": "\(readSecret)"}},
          "lab": {"publish": {"from": ["192.0.2.0/24"]}, "read": {}}
        }}
        """
    }

    @Test(
        "readers need their stream's read secret, publishers theirs; a reload keeps every connection",
        .timeLimit(.minutes(1)))
    func secretsAndReload() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("streams-\(UUID()).json").path
        try Self.file(readSecret: Self.readSecret).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let started = try await RelayUnderTest.start(["--config", path, "--record", "none"])
        defer { started.stop() }
        let (relay, log, port) = (started.process, started.log, started.port)
        // Written with the usual 644: the relay says others may read the secrets.
        let warnings = relay.lines.compactMap(RelayLog.decode).filter { $0["warning"] as? String == "config-readable" }
        #expect(warnings.count == 1)
        let reader = try await InProcessReader(
            port: port, streamID: "read:cam1", passphrase: try SRTPassphrase(Self.readSecret))
        defer { reader.close() }
        _ = try await log.next("connection-opened")
        // The publisher's secret does not open reading, nor does none; another stream's publisher is not from its
        // network; a stream the file does not list is refused.
        for secret in [nil, Self.publishSecret] {
            await #expect(throws: SRTError.self) {
                _ = try await InProcessReader(
                    port: port, streamID: "read:cam1", passphrase: try secret.map { try SRTPassphrase($0) })
            }
        }
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "publish:lab") == 1403)
        #expect(await RelayHostilePeerTests.rejectReason(port: port, streamID: "read:other") == 1403)

        // A publisher with its secret (srt-live-transmit): the reader gets its bytes.
        let first = RelayAcceptanceTests.payload(seed: 0x51)
        try await publish(first, port: port, log: log, total: first.count)
        #expect(await RelayAcceptanceTests.eventually { reader.bytes.count >= first.count })
        #expect(reader.bytes == first, "\(reader.bytes.count) bytes read of \(first.count)")

        // A reload with a new read secret: the connected reader stays and goes on receiving; new readers need the
        // new secret.
        try Self.file(readSecret: Self.newReadSecret).write(toFile: path, atomically: true, encoding: .utf8)
        relay.signal(SIGHUP)
        let reloaded = try await log.next("configuration-reloaded")
        #expect(reloaded["streams"] as? Int == 2)
        await #expect(throws: SRTError.self) {
            _ = try await InProcessReader(
                port: port, streamID: "read:cam1", passphrase: try SRTPassphrase(Self.readSecret))
        }
        let late = try await InProcessReader(
            port: port, streamID: "read:cam1", passphrase: try SRTPassphrase(Self.newReadSecret))
        defer { late.close() }
        let second = RelayAcceptanceTests.payload(seed: 0x52)
        try await publish(second, port: port, log: log, total: first.count + second.count)
        #expect(await RelayAcceptanceTests.eventually { reader.bytes.count >= first.count + second.count })
        #expect(reader.bytes == first + second, "the first reader read \(reader.bytes.count) bytes")
        #expect(await RelayAcceptanceTests.eventually { late.bytes.count >= second.count })
        #expect(late.bytes == second, "the late reader read \(late.bytes.count) bytes")

        // A broken file is refused whole, and the one in force stays.
        try #"{"streams": {"cam1": {"read": {"passphrase": "short"}}}}"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        relay.signal(SIGHUP)
        let refused = try await log.next("configuration-refused")
        #expect((refused["error"] as? String)?.contains("streams.cam1.read.passphrase: must be 10 to 79 bytes") == true)
        let still = try await InProcessReader(
            port: port, streamID: "read:cam1", passphrase: try SRTPassphrase(Self.newReadSecret))
        still.close()

        relay.signal(SIGTERM)
        // Exit 0 (its timing is RelayAcceptanceTests' to check, on a quiet machine).
        #expect(await relay.exitStatus(within: .seconds(10)) == 0)
        let output = relay.lines.joined(separator: "\n") + relay.standardError
        for secret in [Self.publishSecret, Self.readSecret, Self.newReadSecret, "short"] {
            #expect(!output.contains(secret), "\(secret) appears in the relay's output")
        }
    }

    /// srt-live-transmit publishing `payload` to cam1 with its secret.
    private func publish(_ payload: [UInt8], port: Int, log: RelayLog, total: Int) async throws {
        try await RelayReaderTests.publish(
            payload, as: "cam1&passphrase=\(Self.publishSecret)", port: port, log: log, total: total)
    }
}
