import Testing

@testable import srt_relay

/// The values of the recording flags: sizes, free-space thresholds, and how they print.
@Suite("srt-relay recording flag values")
struct RecordingParsingTests {
    @Test(
        "sizes: bytes, K/M/G/T in powers of 1024, with or without i and B",
        arguments: [
            ("65536", 65_536), ("512M", 512 << 20), ("2G", 2 << 30), ("1.5G", 3 << 29), ("1GiB", 1 << 30),
            ("4k", 4096), ("3MB", 3 << 20), ("1T", 1 << 40), ("0", 0), ("100B", 100),
        ] as [(String, UInt64)])
    func sizes(text: String, bytes: UInt64) throws {
        #expect(try ByteSize.parse(text) == bytes)
    }

    @Test(
        "not sizes",
        arguments: ["", "M", "-1", "+5", "1e3", "0x10", " 5", "5 ", "1.2.3", "nan", "inf", "5i", "2X", "2EiB", "٣"])
    func notSizes(text: String) {
        #expect(throws: ParseFailure.self) { try ByteSize.parse(text) }
    }

    @Test("thresholds: sizes and shares of the disk")
    func thresholds() throws {
        #expect(try FreeSpaceThreshold(parsing: "5%").bytes(ofTotal: 200 << 30) == 10 << 30)
        #expect(try FreeSpaceThreshold(parsing: "2.5%").bytes(ofTotal: 1000) == 25)
        #expect(try FreeSpaceThreshold(parsing: "100%").bytes(ofTotal: .max) == .max)
        #expect(try FreeSpaceThreshold(parsing: "512M").bytes(ofTotal: 1) == 512 << 20)
        #expect(try FreeSpaceThreshold(parsing: "0").isEnabled == false)
        #expect(try FreeSpaceThreshold(parsing: "0%").isEnabled == false)
        #expect(FreeSpaceThreshold.standard.description == "1 GiB")
        #expect(try FreeSpaceThreshold(parsing: "1.5G").description == "1.5 GiB")
        #expect(try FreeSpaceThreshold(parsing: "5%").description == "5 %")
        for text in ["101%", "%", "-1%", "5 %", "1e1%", "nan%"] {
            #expect(throws: ParseFailure.self, "\(text)") { try FreeSpaceThreshold(parsing: text) }
        }
    }
}
