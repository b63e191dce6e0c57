/// Human-readable sizes, rates and durations for the relay's lines.
///
/// ```swift
/// Units.bytes(1_234_567)       // "1.2 MB"
/// Units.bitrate(4_200_000)     // "4.2 Mbit/s"
/// Units.duration(.seconds(75)) // "1m15s"
/// ```
enum Units {
    /// Decimal units (kB = 1000 B), as network rates are.
    static func bytes(_ count: UInt64) -> String {
        scaled(Double(count), units: ["B", "kB", "MB", "GB", "TB"])
    }

    /// Bits per second.
    static func bitrate(_ bitsPerSecond: Double) -> String {
        scaled(bitsPerSecond, units: ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"])
    }

    /// `duration` in seconds, as a `Double` (exact to the nanosecond up to about 100 days).
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// ``seconds(_:)`` rounded to the millisecond, for JSON lines.
    static func roundedSeconds(_ duration: Duration) -> Double {
        (seconds(duration) * 1000).rounded() / 1000
    }

    /// `850 ms`, `12.3 s`, `4m05s`, `2h03m`; any duration, negative and `Duration`'s extremes included.
    static func duration(_ duration: Duration) -> String {
        let seconds = Self.seconds(duration)
        return seconds < 0 ? "-" + positiveDuration(-seconds) : positiveDuration(seconds)
    }

    /// The average bitrate of `bytes` over `duration`, 0 for an empty duration.
    static func bitsPerSecond(_ bytes: UInt64, over duration: Duration) -> Double {
        let seconds = Self.seconds(duration)
        return seconds > 0 ? Double(bytes) * 8 / seconds : 0
    }

    private static func positiveDuration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 60 { return "\(oneDecimal(seconds)) s" }
        // Int(seconds) traps from 2^63 s (Duration's largest values); hours alone fit far beyond any real uptime.
        guard seconds < 1e15 else { return "\(Int(seconds / 3600))h" }
        let whole = Int(seconds)
        if whole < 3600 { return "\(whole / 60)m\(twoDigits(whole % 60))s" }
        return "\(whole / 3600)h\(twoDigits(whole / 60 % 60))m"
    }

    /// Total: NaN and infinities are named, negative values keep their sign, huge ones are printed as doubles
    /// (`Int(_:)` of any of them would trap).
    private static func scaled(_ value: Double, units: [String]) -> String {
        if value.isNaN { return "n/a" }
        if value < 0 { return "-" + scaled(-value, units: units) }
        if value.isInfinite { return "∞ \(units[units.count - 1])" }
        var value = value
        var index = 0
        while value >= 999.95 && index < units.count - 1 {
            value /= 1000
            index += 1
        }
        return index == 0 ? "\(Int(value.rounded())) \(units[0])" : "\(oneDecimal(value)) \(units[index])"
    }

    private static func oneDecimal(_ value: Double) -> String {
        guard value < 1e15 else { return "\(value.rounded())" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
