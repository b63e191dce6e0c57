/// Sizes as the flags take them: a number of bytes with an optional binary suffix, `K`, `M`, `G` or `T` (powers of
/// 1024, an optional `i` and `B` accepted: `512M`, `2G`, `1.5GiB`, `65536`).
///
/// ```swift
/// try ByteSize.parse("512M")    // 536_870_912
/// try ByteSize.parse("1.5G")    // 1_610_612_736
/// try ByteSize.parse("2X")      // throws ParseFailure
/// ```
enum ByteSize {
    /// The largest size accepted: 1 EiB, far above any disk, and well inside `UInt64`.
    static let maximum: UInt64 = 1 << 60

    static func parse(_ text: String) throws(ParseFailure) -> UInt64 {
        let failure = ParseFailure("expected a size such as 65536, 512M or 2G, got \"\(text)\"")
        var number = Substring(text.uppercased())
        // The suffix, from the end: an optional `B`, then `I` (only after a unit letter), then the unit letter.
        if number.hasSuffix("B") { number = number.dropLast() }
        let binary = number.hasSuffix("I")
        if binary { number = number.dropLast() }
        var scale: UInt64 = 1
        if let last = number.last, let power = ["K": 10, "M": 20, "G": 30, "T": 40][last] {
            scale = 1 << UInt64(power)
            number = number.dropLast()
        } else if binary {
            throw failure
        }
        // Digits and at most one dot only: no sign, exponent, hex, spaces, `inf` or `nan`.
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, number != ".", let value = Double(number)
        else { throw failure }
        let bytes = value * Double(scale)
        guard bytes <= Double(maximum) else { throw ParseFailure("at most 1 EiB, got \"\(text)\"") }
        return UInt64(bytes.rounded(.down))
    }

    /// `1 GiB`, `512 MiB`, `1.5 GiB`, `65536 B`: binary units, as the flags take them, rounded down (2.96 MiB free is
    /// `2.9 MiB`, never the `3 MiB` it falls short of).
    static func describe(_ bytes: UInt64) -> String {
        for (unit, power) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] where bytes >= UInt64(1) << power {
            let tenths = Int((Double(bytes) / Double(UInt64(1) << power) * 10).rounded(.down))
            return tenths % 10 == 0 ? "\(tenths / 10) \(unit)" : "\(tenths / 10).\(tenths % 10) \(unit)"
        }
        return "\(bytes) B"
    }
}
