/// Standard error for the library's log (swift-log's `StreamLogHandler`), with each line escaped by ``SafeText``
/// (messages quote stream ids and addresses that peers chose) and written through ``OutputQueue/standardError``.
///
/// ```swift
/// let logger = Logger(label: "srt-relay") { StreamLogHandler(label: $0, stream: EscapedStandardError()) }
/// ```
struct EscapedStandardError: TextOutputStream, Sendable {
    /// Takes one whole log line (`StreamLogHandler` writes each event at once, newline included).
    mutating func write(_ string: String) {
        let body = string.hasSuffix("\n") ? String(string.dropLast()) : string
        // Queued: libsrt's threads log through here, and must never wait for a reader.
        OutputQueue.standardError.enqueue(SafeText.escaped(body) + "\n")
    }
}
