import Testing

@testable import SRTAdapter

@Suite("Duration in libsrt's units")
struct DurationUnitsTests {
    @Test("whole milliseconds and microseconds truncate toward zero")
    func truncates() {
        #expect(Duration.milliseconds(1500).wholeMilliseconds == 1500)
        #expect(Duration.microseconds(1999).wholeMilliseconds == 1)
        #expect(Duration.nanoseconds(2500).wholeMicroseconds == 2)
        #expect(Duration.microseconds(-1999).wholeMilliseconds == -1)
        #expect(Duration.nanoseconds(1_250_000_000).nanosecondsOfSecond == 250_000_000)
    }

    @Test("Duration's extremes clamp instead of trapping")
    func clamps() {
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == .max)
        #expect(Duration.seconds(Int64.min).wholeMicroseconds == .min)
        #expect(Int32(clamping: Duration.seconds(Int64.max / 1000).wholeMilliseconds) == .max)
    }
}
