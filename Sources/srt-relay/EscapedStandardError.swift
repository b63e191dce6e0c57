#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Standard error for the library's log (swift-log's `StreamLogHandler`), with each line escaped by ``SafeText``:
/// messages quote stream ids and addresses that peers chose.
///
/// ```swift
/// let logger = Logger(label: "srt-relay") { StreamLogHandler(label: $0, stream: EscapedStandardError()) }
/// ```
struct EscapedStandardError: TextOutputStream, Sendable {
    /// Takes one whole log line (`StreamLogHandler` writes each event at once, newline included).
    mutating func write(_ string: String) {
        let body = string.hasSuffix("\n") ? String(string.dropLast()) : string
        Console.writeAll(SafeText.escaped(body) + "\n", to: STDERR_FILENO)
    }
}
