import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file system calls of recordings, run on a thread pool of their own: a slow or full disk stalls those
/// threads, never a thread of Swift's cooperative pool, and no lock is held while they wait.
///
/// ```swift
/// let result = await RecordingIO.run { RecordingIO.write(descriptor, bytes, 0..<bytes.count) }
/// ```
enum RecordingIO {
    /// Four threads: a recording that waits for its disk leaves three for the others.
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// Runs `body` on ``pool`` and returns its result. A call that started always finishes and is seen, even when
    /// the calling task is cancelled meanwhile (a write's count, a close's result must not be lost): it is submitted
    /// from a task of its own, which the caller's cancellation does not reach.
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        let work = Task { try await pool.runIfActive(body) }
        do {
            return try await work.value
        } catch {
            // Only an inactive pool fails, and this one is never shut down; run here rather than trap.
            return body()
        }
    }

    /// What one ``write(_:_:_:)`` did: bytes written before it stopped, and the errno that stopped it, if any.
    struct Written: Sendable {
        var count: Int
        var errno: Int32?
    }

    /// Writes `bytes[range]` to `descriptor`, through short writes and signals; stops at the first other error.
    static func write(_ descriptor: Int32, _ bytes: [UInt8], _ range: Range<Int>) -> Written {
        var offset = range.lowerBound
        while offset < range.upperBound {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress! + offset, range.upperBound - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return Written(count: offset - range.lowerBound, errno: errno)
            }
            offset += written
        }
        return Written(count: offset - range.lowerBound, errno: nil)
    }

    /// Creates a new file at `path` (never an existing one); the descriptor, or the errno.
    static func create(_ path: String) -> Result<Int32, SinkError> {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return .failure(SinkError(operation: "create \(path)", errno: errno)) }
        return .success(descriptor)
    }

    /// `fsync`; the errno when it failed.
    static func sync(_ descriptor: Int32) -> Int32? {
        while fsync(descriptor) != 0 {
            if errno != EINTR { return errno }
        }
        return nil
    }

    /// `close`, once whatever it returns (retrying after EINTR could close a descriptor reused meanwhile); the
    /// errno when it failed.
    static func close(_ descriptor: Int32) -> Int32? {
        Glibc.close(descriptor) == 0 ? nil : errno
    }
}
