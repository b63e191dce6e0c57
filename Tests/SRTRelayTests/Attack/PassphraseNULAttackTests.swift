import Foundation
import SRTAdapter
import SRTTestSupport
import Testing

/// A `--config` passphrase with an embedded NUL (`\u0000` in JSON) once passed `SRTPassphrase`'s length check on its
/// full UTF-8 length, while the listen callback handed it to libsrt as C text: only the bytes before the NUL were the
/// secret, and ten NULs made it empty, which libsrt takes as "no encryption". A passphrase with a NUL is now refused.
@Suite(
    "attack: per-stream passphrase with an embedded NUL",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct PassphraseNULAttackTests {
    @Test(
        "a read secret with a NUL is refused at start, with the place and without the secret", .timeLimit(.minutes(1)))
    func truncatedSecret() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("streams-\(UUID()).json").path
        // Were it taken, its first 10 bytes would be all libsrt checks.
        try
            #"{"streams": {"cam1": {"publish": {}, "read": {"passphrase": "0123456789\u0000-the-long-real-secret-part"}}}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (relay, _, _, directory) = try RelayReaderTests.startRelay(["--config", path, "--record", "none"])
        defer {
            relay.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        #expect(await relay.exitStatus(within: .seconds(5)) == 64)
        let error = await relay.standardErrorAtExit()
        #expect(error.contains("streams.cam1.read.passphrase: must not contain a NUL byte"), "\(error)")
        #expect(!error.contains("0123456789"))
    }

    @Test("a read secret of ten NULs is refused, rather than taken as no secret", .timeLimit(.minutes(1)))
    func emptySecret() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("streams-\(UUID()).json").path
        let nuls = String(repeating: #"\u0000"#, count: 10)
        try #"{"streams": {"cam1": {"publish": {}, "read": {"passphrase": "\#(nuls)"}}}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (relay, _, _, directory) = try RelayReaderTests.startRelay(["--config", path, "--record", "none"])
        defer {
            relay.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        // Refused at start: never a stream whose secret libsrt would take as none.
        #expect(await relay.exitStatus(within: .seconds(5)) == 64)
        #expect(await relay.standardErrorAtExit().contains("must not contain a NUL byte"))
    }
}
