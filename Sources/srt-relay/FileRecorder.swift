import Supervisor
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Records one stream to a new file. ``write(_:)`` only appends to memory; a writer task of its own writes each
/// 64 KiB through ``RecordingIO``'s threads, so a slow or full disk stalls neither the connection nor a thread of
/// the cooperative pool. A write that fails with a transient error (EINTR, EAGAIN, ENOSPC, EDQUOT) keeps its bytes
/// and is retried with the `Supervisor` module's `retry` and backoff, while new messages wait in memory up to
/// ``RecordingOptions/maxHeldBytes``; past that bound, or after any other error, ``write(_:)`` throws and the
/// recording ends with the reason. What waits is written and the file fsynced every
/// ``RecordingOptions/fsyncInterval``; ``close(within:)`` writes the rest, fsyncs and closes the file, and every
/// failed `fsync` or `close` is reported.
///
/// ```swift
/// let recorder = try await FileRecorder.create(
///     in: "recordings", options: RecordingOptions(),
///     name: { counter in "cam1-20261129T153005Z\(counter > 1 ? "-\(counter)" : "").ts" },
///     report: { event in print(event) })
/// try recorder.write(message)
/// try await recorder.close(within: .seconds(10))
/// ```
final class FileRecorder: StreamSink {
    let destination: String
    private let options: RecordingOptions
    private let report: @Sendable (RecordingEvent) -> Void
    private let state: Mutex<State>
    /// Wakes the writer: a chunk is ready, or the recording ends.
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// The writer; ``close(within:)`` waits for it.
    private let writer = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        /// Bytes received and not yet taken by the writer.
        var pending: [UInt8] = []
        /// Bytes the writer took and has not written yet.
        var held = 0
        var ending = false
        /// The fsync clock ticked: write what waits, then fsync.
        var syncDue = false
        /// Why the recording cannot go on; ``write(_:)`` throws it.
        var failure: SinkError?
        /// The first error of the end (the rest given up, fsync, close), thrown by ``close(within:)``.
        var endError: SinkError?
    }

    private init(
        path: String, descriptor: Int32, options: RecordingOptions,
        report: @escaping @Sendable (RecordingEvent) -> Void
    ) {
        destination = path
        self.options = options
        self.report = report
        var pending: [UInt8] = []
        pending.reserveCapacity(options.chunkSize)
        state = Mutex(State(pending: pending))
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let task = Task { [self] in await self.run(descriptor: descriptor) }
        writer.withLock { $0 = task }
    }

    /// Creates `directory` (and its parents) if needed and a new file named after `name` in it, on
    /// ``RecordingIO``'s threads; never overwrites: an existing name gets a counter (`-2`, `-3`, …) from
    /// `name(counter)`.
    static func create(
        in directory: String, options: RecordingOptions, name: @escaping @Sendable (Int) -> String,
        report: @escaping @Sendable (RecordingEvent) -> Void
    ) async throws(SinkError) -> FileRecorder {
        let opened = await RecordingIO.run { () -> Result<(String, Int32), SinkError> in
            do throws(SinkError) {
                try makeDirectories(directory)
                for counter in 1...1000 {
                    let path = directory.hasSuffix("/") ? directory + name(counter) : "\(directory)/\(name(counter))"
                    switch RecordingIO.create(path) {
                    case .success(let descriptor): return .success((path, descriptor))
                    case .failure(let error) where error.errno == EEXIST: continue
                    case .failure(let error): throw error
                    }
                }
                throw SinkError(operation: "create a file in \(directory)", errno: EEXIST)
            } catch {
                return .failure(error)
            }
        }
        let (path, descriptor) = try opened.get()
        return FileRecorder(path: path, descriptor: descriptor, options: options, report: report)
    }

    func write(_ message: [UInt8]) throws(SinkError) {
        let ready = try state.withLock { state throws(SinkError) -> Bool in
            if let failure = state.failure { throw failure }
            guard state.held + state.pending.count + message.count <= options.maxHeldBytes else {
                let failure = SinkError(
                    operation: "write \(destination)", errno: ENOBUFS, kind: .heldTooMuch,
                    detail: "\(Units.bytes(UInt64(state.held + state.pending.count))) held in memory, the most a "
                        + "recording may hold while its disk does not take them")
                state.failure = failure
                throw failure
            }
            state.pending.append(contentsOf: message)
            return state.pending.count >= options.chunkSize
        }
        if ready { wake.yield() }
    }

    func close(within limit: Duration) async throws(SinkError) {
        state.withLock { $0.ending = true }
        // The writer takes the rest at this wakeup, writes it and leaves.
        wake.yield()
        wake.finish()
        guard let task = writer.withLock({ $0 }) else { return }
        // A writer still retrying after `limit` gives the rest up. The timer is a task of its own, so that a
        // cancelled caller (the shutdown) still lets the writer finish within the limit.
        let timer = Task {
            try? await Task.sleep(for: limit)
            task.cancel()
        }
        await task.value
        timer.cancel()
        if let error = state.withLock({ $0.endError }) { throw error }
    }

    /// The writer: takes what ``write(_:)`` gathered at each wakeup and writes it, and fsyncs every
    /// ``RecordingOptions/fsyncInterval``, until the end or a failure; then fsyncs and closes the file.
    private func run(descriptor: Int32) async {
        await withTaskGroup(of: Void.self) { group in
            if let interval = options.fsyncInterval {
                group.addTask { await self.tick(every: interval) }
            }
            await writeUntilTheEnd(to: descriptor)
            group.cancelAll()
        }
        await finish(descriptor: descriptor)
    }

    /// The fsync clock: what waits in memory is written and synced at least this often.
    private func tick(every interval: Duration) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            state.withLock { $0.syncDue = true }
            wake.yield()
        }
    }

    /// Writes what each wakeup finds, until the end or a failure.
    private func writeUntilTheEnd(to descriptor: Int32) async {
        var streak: (started: ContinuousClock.Instant, retries: Int)?
        for await _ in wakeups {
            let (bytes, ending, syncDue) = state.withLock { state in
                let taken = (state.pending, state.ending, state.syncDue)
                state.held += state.pending.count
                state.pending.removeAll(keepingCapacity: true)
                state.syncDue = false
                return taken
            }
            if !bytes.isEmpty {
                do {
                    try await write(bytes, to: descriptor, streak: &streak)
                } catch {
                    // A lasting error, or the end came while retrying: what is held cannot be written.
                    state.withLock { state in
                        if state.failure == nil { state.failure = error }
                    }
                    return
                }
            }
            if ending { return }
            // A failed fsync is reported and the recording goes on: what follows may still reach the disk.
            if syncDue, let error = await sync(descriptor) { report(.outputError(error)) }
        }
    }

    /// `fsync` on ``RecordingIO``'s threads; the error, if any.
    private func sync(_ descriptor: Int32) async -> SinkError? {
        guard let code = await RecordingIO.run({ RecordingIO.sync(descriptor) }) else { return nil }
        return SinkError(operation: "fsync \(destination)", errno: code)
    }

    /// Writes `bytes` whole; a transient error is retried with backoff until it clears, the writer is cancelled
    /// (``close(within:)``'s limit), or the recording failed otherwise (its memory bound).
    private func write(
        _ bytes: [UInt8], to descriptor: Int32, streak: inout (started: ContinuousClock.Instant, retries: Int)?
    ) async throws(SinkError) {
        var offset = 0
        do {
            try await retry(backoff: options.retryBackoff, maxAttempts: Int.max) {
                let start = offset
                let written = await RecordingIO.run { RecordingIO.write(descriptor, bytes, start..<bytes.count) }
                offset += written.count
                state.withLock { $0.held -= written.count }
                if let code = written.errno { throw SinkError(operation: "write \(destination)", errno: code) }
            } onRetry: { attempt in
                if streak == nil {
                    // One line when writes start failing, one when they succeed again: never one per retry.
                    streak = (.now, 0)
                    let held = state.withLock { $0.held + $0.pending.count }
                    let error = attempt.error as? SinkError ?? SinkError(operation: "write \(destination)", errno: EIO)
                    report(.retrying(error, held: held))
                }
                streak?.retries += 1
            }
        } catch let error as RetryError {
            throw error.lastError as? SinkError
                ?? SinkError(operation: "write \(destination)", errno: ECANCELED, detail: "\(error.reason)")
        } catch {
            throw error as? SinkError ?? SinkError(operation: "write \(destination)", errno: EIO, detail: "\(error)")
        }
        if let failed = streak {
            report(.recovered(failedFor: .now - failed.started, retries: failed.retries))
            streak = nil
        }
    }

    /// Closes the file: counts what could not be written, then `fsync` and `close`; every failure is reported, and the first
    /// one is what ``close(within:)`` throws.
    private func finish(descriptor: Int32) async {
        let lost = state.withLock { state in
            let lost = state.held + state.pending.count
            state.pending = []
            state.held = 0
            return lost
        }
        var errors: [SinkError] = []
        if lost > 0 {
            let cause = state.withLock { $0.failure }.map { ": \($0)" } ?? ""
            errors.append(
                SinkError(
                    operation: "write \(destination)", errno: EIO,
                    detail: "\(Units.bytes(UInt64(lost))) could not be written\(cause)"))
        }
        if let error = await sync(descriptor) {
            report(.outputError(error))
            errors.append(error)
        }
        if let code = await RecordingIO.run({ RecordingIO.close(descriptor) }) {
            let error = SinkError(operation: "close \(destination)", errno: code)
            report(.outputError(error))
            errors.append(error)
        }
        state.withLock { state in
            if state.endError == nil { state.endError = errors.first }
        }
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(SinkError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw SinkError(operation: "create directory \(prefix)", errno: errno)
            }
            prefix += "/"
        }
    }
}
