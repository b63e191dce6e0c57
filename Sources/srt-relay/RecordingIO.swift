import NIOPosix
import Synchronization

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

    /// Runs `body` on a thread of its own, beside ``pool``: for a recording's periodic fsync, which runs beside its
    /// writes, at most one at a time per recording. A disk slow to sync holds neither the writes back nor a thread of
    /// ``pool``, and no fsync waits behind another recording's; a disk that stalls keeps one such thread per
    /// recording until it answers. On ``pool`` when the process is out of threads.
    static func runBeside<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        let answer = FirstAnswer<T>()
        guard DetachedThread.start({ answer.give(body()) }) else { return await run(body) }
        return await answer.value
    }

    /// What a call run with a limit came to: its result, or why there is none.
    enum Bounded<T: Sendable>: Sendable {
        /// The call ended within the limit.
        case answered(T)
        /// The call was submitted and given up at the limit (or at the caller's cancellation); it goes on.
        case gaveUp
        /// Never submitted: ``maximumStalledCalls`` calls were outstanding for the whole limit.
        case refused

        /// The result, if the call ended within the limit.
        var value: T? {
            if case .answered(let value) = self { return value }
            return nil
        }

        /// Whether the call was never submitted.
        var isRefused: Bool {
            if case .refused = self { return true }
            return false
        }
    }

    /// Runs `body` on ``pool`` and waits for it at most `limit`, and no longer once the calling task is cancelled.
    /// The call itself cannot be taken back: it goes on on its thread, which a disk that does not answer (frozen, a
    /// hung NFS server) keeps blocked in the kernel for as long as it stalls, and `late` gets its result when it
    /// ends (to close a descriptor opened too late, say). It holds one of ``maximumStalledCalls`` slots from its
    /// submission until it returns; while every slot is held, it waits for one within the same `limit`, and is
    /// ``Bounded/refused`` (never submitted) when none frees up.
    ///
    /// ```swift
    /// guard let reading = await RecordingIO.run(within: .seconds(1), { DiskSpaceGuard.measure(path: "rec") }).value
    /// else { return nil }   // the disk did not answer within 1 s
    /// ```
    static func run<T: Sendable>(
        within limit: Duration, _ body: @escaping @Sendable () -> T, late: @escaping @Sendable (T) -> Void = { _ in }
    ) async -> Bounded<T> {
        let deadline = ContinuousClock.now + limit
        guard await slots.acquire(until: deadline) else { return .refused }
        let answer = FirstAnswer<T?>()
        Task {
            let result = await run(body)
            // The slot is free once the call returned, whether or not it was given up.
            defer { slots.release() }
            // Given up already: the caller is gone, and whatever the call left is cleaned up here.
            guard !answer.give(result) else { return }
            late(result)
            stalled.subtract(1, ordering: .relaxed)
        }
        let timer = Task {
            // Cancelled once the call answered: then the answer below is refused anyway.
            try? await Task.sleep(until: deadline)
            if answer.give(nil) { stalled.add(1, ordering: .relaxed) }
        }
        defer { timer.cancel() }
        let result = await withTaskCancellationHandler {
            await answer.value
        } onCancel: {
            if answer.give(nil) { stalled.add(1, ordering: .relaxed) }
        }
        return result.map { .answered($0) } ?? .gaveUp
    }

    /// Calls given up while they still wait for their disk, each on a thread of ``pool`` or in its queue.
    private static let stalled = Atomic(0)

    /// Calls run with a limit, from submission until they return, and closes given up until their writer ends.
    private static let slots = CallSlots(count: maximumStalledCalls)

    /// How many file system calls were given up and still wait for a disk that does not answer.
    static var stalledCalls: Int {
        stalled.load(ordering: .relaxed)
    }

    /// A disk that stalls holds at most that many calls (and the threads, descriptors and bytes they keep), however
    /// many publishers come: a recording's start and a free-space measurement are submitted only while fewer calls
    /// run with a limit or were given up by a close; otherwise they wait for one to end within their own limit,
    /// and the publisher is refused (the measurement skipped) when none does.
    static let maximumStalledCalls = 4

    /// Counts a call that `task` waits in and that was given up, until `task` ends (if the disk ever answers). It
    /// takes a slot even past ``maximumStalledCalls``: it was submitted already.
    static func countStalled(until task: Task<Void, Never>) {
        stalled.add(1, ordering: .relaxed)
        slots.take()
        Task {
            await task.value
            stalled.subtract(1, ordering: .relaxed)
            slots.release()
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
                POSIX.writeDescriptor(descriptor, raw.baseAddress! + offset, range.upperBound - offset)
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

    /// Starts writing `range` of the file to the disk without waiting for it, and lets the page cache drop those
    /// pages once written (a recording is not read back): `posix_fadvise(POSIX_FADV_DONTNEED)`, which on Linux starts
    /// the writeback of the range's dirty pages. A hint: its errors are left to the next fsync to report.
    static func startWriteback(_ descriptor: Int32, _ range: Range<Int>) {
        _ = posix_fadvise(descriptor, off_t(range.lowerBound), off_t(range.count), POSIX_FADV_DONTNEED)
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
        let error = POSIX.closeDescriptor(descriptor)
        return error == 0 ? nil : error
    }
}
