import Foundation
import SRTTestSupport
import Synchronization
import Testing

/// A hostile reader against an edge with a `*` pull rule: every name it asks for would start one more outgoing
/// connection to the origin, each lingering after the reader left. `--max-pulls` bounds them.
@Suite(
    "srt-relay pulls under attack",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct PullAttackTests {
    @Test("readers asking for more names than --max-pulls: the rest are refused with a line, the readers stay")
    func namesAreCapped() async throws {
        let origin = try await RelayUnderTest.start(["--record", "none"])
        defer { origin.stop() }
        let edge = try await RelayUnderTest.start([
            "--record", "none", "--max-pulls", "2", "--pull", "*=srt://127.0.0.1:\(origin.port)",
        ])
        defer { edge.stop() }
        var readers: [InProcessReader] = []
        defer { for reader in readers { reader.close() } }
        for name in ["a", "b", "c", "d"] {
            readers.append(try await InProcessReader(port: edge.port, streamID: "read:\(name)"))
        }
        let refused = try await edge.log.next("pull-refused")
        #expect(refused["pulls"] as? Int == 2, "\(refused)")
        let events = { edge.process.lines.compactMap(RelayLog.decode).compactMap { $0["event"] as? String } }
        #expect(await RelayAcceptanceTests.eventually { events().filter { $0 == "pull-refused" }.count == 2 })
        #expect(events().filter { $0 == "pull-started" }.count == 2, "\(events())")
        // The refused readers wait connected, for a publisher of their own.
        #expect(readers.allSatisfy { $0.ending.withLock { $0 } == nil })
    }
}
