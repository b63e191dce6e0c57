import SRTAdapter
import Supervisor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where one accepted stream's messages go: a recording file or a UDP socket. Used by one task at a time.
///
/// ```swift
/// let sink: any StreamSink = try await FileRecorder.create(in: "recordings", options: options) { … }
/// for try await message in connection.messages { try sink.write(message) }
/// try await sink.close(within: .seconds(10))
/// ```
protocol StreamSink: Sendable {
    /// Takes one SRT message (at most 1456 bytes); never waits for a disk or a network.
    func write(_ message: [UInt8]) throws(SinkError)
    /// Takes the messages of `batch` in order, as ``write(_:)`` would one by one; `taken` grows by the bytes of each
    /// message taken, so that it counts them when a message is refused (the error thrown) too.
    func write(contentsOf batch: SRTMessageBatch, taken: inout Int) throws(SinkError)
    /// Writes what is still held, releases the sink and reports the first error of that; waits at most `limit`
    /// for output that cannot be written, then gives the rest up. Call it once.
    func close(within limit: Duration) async throws(SinkError)
    /// Shortens a close, begun or to come, to end within `limit` from now (the shutdown); never lengthens it.
    func hurry(within limit: Duration)
    /// Where the stream goes, for the relay's lines (`recordings/cam1-20261129T153005Z.ts`, `udp://…`).
    var destination: String { get }
}

extension StreamSink {
    /// Nothing to shorten: the sink's close does not wait.
    func hurry(within limit: Duration) {}

    /// One message at a time.
    func write(contentsOf batch: SRTMessageBatch, taken: inout Int) throws(SinkError) {
        for message in batch {
            try write(Array(message))
            taken += message.count
        }
    }
}

/// A sink's system call failed, or the sink gave its output up (`detail` then says why).
///
/// ```swift
/// SinkError(operation: "write recordings/cam1.ts", errno: ENOSPC).description
/// // "write recordings/cam1.ts: No space left on device"
/// ```
struct SinkError: Error, CustomStringConvertible {
    /// What went wrong, beyond the errno.
    struct Kind: Hashable, Sendable {
        private enum Code: Hashable, Sendable {
            case systemCall
            case heldTooMuch
            case lowSpace
            case diskStalled
        }

        private let code: Code

        /// A system call failed with `errno`.
        static let systemCall = Kind(code: .systemCall)
        /// The output did not take the stream for so long that the memory bound was reached.
        static let heldTooMuch = Kind(code: .heldTooMuch)
        /// Free space fell below `--min-free`.
        static let lowSpace = Kind(code: .lowSpace)
        /// The disk did not answer a file system call in time (frozen, a hung NFS server); the call still waits.
        static let diskStalled = Kind(code: .diskStalled)
    }

    let operation: String
    let errno: Int32
    let kind: Kind
    /// Said instead of `strerror(errno)` when set.
    var detail: String?

    init(operation: String, errno: Int32, kind: Kind = .systemCall, detail: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.kind = kind
        self.detail = detail
    }

    var description: String {
        "\(operation): \(detail ?? String(cString: strerror(errno)))"
    }

    /// Whether the same call may succeed later: a signal, a full buffer, a full disk or quota that space may free.
    var isTransient: Bool {
        kind == .systemCall && [EINTR, EAGAIN, EWOULDBLOCK, ENOSPC, EDQUOT, ENOMEM].contains(errno)
    }
}

extension SinkError: ClassifiableError {
    /// Transient errors are retried with backoff; any other (EIO, EBADF, EFBIG, EROFS…) ends the output at once.
    var failureDecision: FailureDecision? {
        isTransient ? .restart : .giveUp
    }
}
