import Testing

@testable import srt_relay

/// A free-space guard asked for must never turn itself off: a small share or size is kept, or refused.
@Suite("srt-relay recording flag values under attack")
struct RecordingFlagAttackTests {
    @Test(
        "--min-free: a share or size that is not 0 keeps the guard on (or is refused), never turns it off silently",
        arguments: ["0.004%", "0.001%", "0.4"])
    func tinyThresholdKeepsTheGuard(text: String) {
        // Rounded to hundredths of a percent (or down to whole bytes), these become 0: the guard is off, publishers
        // are never refused with 1507, and nothing says so.
        let threshold = try? FreeSpaceThreshold(parsing: text)
        #expect(threshold == nil || threshold?.isEnabled == true, "--min-free \(text) parses to no guard at all")
    }
}
