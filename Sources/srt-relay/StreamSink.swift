/// Where one accepted stream's messages go: a recording file or a UDP socket. Used by one task at a time.
protocol StreamSink: Sendable {
    /// Takes one SRT message (at most 1456 bytes).
    func write(_ message: [UInt8]) throws(SinkError)
    /// Flushes and releases the sink; idempotent.
    func close() throws(SinkError)
    /// Where the stream goes, for the relay's lines (`recordings/cam1-20261129T153005Z.ts`, `udp://…`).
    var destination: String { get }
}

/// A sink's system call failed.
struct SinkError: Error, CustomStringConvertible {
    let operation: String
    let errno: Int32

    var description: String {
        "\(operation): \(String(cString: strerror(errno)))"
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
