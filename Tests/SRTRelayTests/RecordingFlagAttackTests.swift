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

    @Test("--min-free: a small value keeps what it says, rounded up, never down")
    func smallThresholdIsKept() throws {
        // A fraction of a byte keeps one byte.
        #expect(try FreeSpaceThreshold(parsing: "0.4").bytes(ofTotal: 1 << 40) == 1)
        // 0.004 % of 1 TB is 40 MB, neither 0 nor the 100 MB of 0.01 %.
        #expect(try FreeSpaceThreshold(parsing: "0.004%").bytes(ofTotal: 1_000_000_000_000) == 40_000_000)
        #expect(try FreeSpaceThreshold(parsing: "0.004%").description == "0.004 %")
        // A share of a small disk rounds up to a whole byte: 0.001 % of 1000 bytes keeps 1.
        #expect(try FreeSpaceThreshold(parsing: "0.001%").bytes(ofTotal: 1000) == 1)
        // Below a billionth of the disk: one billionth.
        #expect(try FreeSpaceThreshold(parsing: "0.000000001%").bytes(ofTotal: 1_000_000_000) == 1)
        #expect(try FreeSpaceThreshold(parsing: "0.0%").isEnabled == false)
        #expect(try FreeSpaceThreshold(parsing: "0.0K").isEnabled == false)
    }
}
