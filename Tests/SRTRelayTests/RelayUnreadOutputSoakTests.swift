import Foundation
import SRTTestSupport
import Testing

/// The long form of ``RelayUnreadOutputTests``: a minute of stream with both output pipes full and never read. It
/// runs in a step of its own after the other suites (`make test`), where its stream does not compete with them.
@Suite(
    "srt-relay with nobody reading its output, for a minute",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayUnreadOutputSoakTests {
    @Test(
        "standard output and error full and never read: a 60 s stream is recorded whole, and the relay exits 0",
        .timeLimit(.minutes(3)))
    func recordsAMinute() async throws {
        // 30,000 messages at 500 a second.
        try await RelayUnreadOutputTests.recordWithUnreadOutput(messages: 30_000)
    }
}
