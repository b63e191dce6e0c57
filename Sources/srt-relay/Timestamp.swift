#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A wall-clock instant in UTC, formatted for lines (`15:30:01.123`), JSON (`2026-11-29T15:30:01.123Z`) and file
/// names (`20261129T153001Z`).
struct Timestamp: Sendable {
    let seconds: Int
    let milliseconds: Int

    static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: spec.tv_sec, milliseconds: spec.tv_nsec / 1_000_000)
    }

    private var parts: tm {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return parts
    }

    /// `HH:MM:SS.mmm` (UTC).
    var clock: String {
        let t = parts
        return "\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec)).\(pad(milliseconds, 3))"
    }

    /// ISO 8601 with milliseconds, UTC.
    var iso8601: String {
        let t = parts
        return "\(t.tm_year + 1900)-\(pad(t.tm_mon + 1))-\(pad(t.tm_mday))T\(clock)Z"
    }

    /// `YYYYMMDDTHHMMSSZ`: sorts by time, safe in file names.
    var compact: String {
        let t = parts
        return
            "\(t.tm_year + 1900)\(pad(t.tm_mon + 1))\(pad(t.tm_mday))T\(pad(t.tm_hour))\(pad(t.tm_min))\(pad(t.tm_sec))Z"
    }

    private func pad(_ value: some BinaryInteger, _ width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
