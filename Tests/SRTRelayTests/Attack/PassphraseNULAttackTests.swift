import Foundation
import SRTAdapter
import SRTTestSupport
import Testing

/// A `--config` passphrase with an embedded NUL (`\u0000` in JSON) passes `SRTPassphrase`'s length check on its
/// full UTF-8 length, but the listen callback hands it to libsrt with `strlen` (ListenerRegistry's
/// `srt_setsockflag(…, strlen($0))`): only the bytes before the NUL are the secret. A caller that knows only that
/// prefix is let in; ten NULs make the secret empty, which libsrt takes as "no encryption" and the stream is open
/// to anyone.
@Suite(
    "attack: per-stream passphrase with an embedded NUL",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct PassphraseNULAttackTests {
    @Test("a reader knowing only the part of the read secret before a NUL is refused", .timeLimit(.minutes(1)))
    func truncatedSecret() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("streams-\(UUID()).json").path
        // The configured secret is 45 bytes; its first 10 are all the relay checks.
        try #"{"streams": {"cam1": {"publish": {}, "read": {"passphrase": "0123456789\u0000-the-long-real-secret-part"}}}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (relay, log, port, directory) = try RelayReaderTests.startRelay(["--config", path, "--record", "none"])
        defer {
            relay.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        _ = try await log.next("listening")
        var reader: InProcessReader?
        do {
            reader = try await InProcessReader(
                port: port, streamID: "read:cam1", passphrase: try SRTPassphrase("0123456789"))
        } catch {}
        defer { reader?.close() }
        #expect(reader == nil, "a reader with only the 10 bytes before the NUL was let in")
    }

    @Test("a read secret of ten NULs does not leave the stream open to callers without one", .timeLimit(.minutes(1)))
    func emptySecret() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("streams-\(UUID()).json").path
        let nuls = String(repeating: #"\u0000"#, count: 10)
        try #"{"streams": {"cam1": {"publish": {}, "read": {"passphrase": "\#(nuls)"}}}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (relay, log, port, directory) = try RelayReaderTests.startRelay(["--config", path, "--record", "none"])
        defer {
            relay.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        // Either the file is refused at start (fine), or it runs: then a caller without any secret must not read.
        guard (try? await log.next("listening")) != nil else { return }
        var reader: InProcessReader?
        do {
            reader = try await InProcessReader(port: port, streamID: "read:cam1")
        } catch {}
        defer { reader?.close() }
        #expect(reader == nil, "a reader without any passphrase was let into a stream with a configured read secret")
    }
}
