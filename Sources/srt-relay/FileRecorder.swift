import SRTAdapter
import Supervisor
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Records one stream to a new file, or to numbered segments. ``write(_:)`` only appends to memory; a writer task
/// of its own writes each 256 KiB through ``RecordingIO``'s threads, so a slow or full disk stalls neither the
/// connection nor a thread of the cooperative pool. A write that fails with a transient error (EINTR, EAGAIN,
/// ENOSPC, EDQUOT) keeps its bytes and is retried with the `Supervisor` module's `retry` and backoff, while new
/// messages wait in memory up to ``RecordingOptions/heldTime`` of the stream; past that bound, or after any other
/// error, or when free space falls below `--min-free`, ``write(_:)`` throws and the recording ends with the reason.
/// What waits is written and the file fsynced every ``RecordingOptions/fsyncInterval`` (the fsync beside the writes
/// that follow, ``RecordingIO/runBeside(_:)``); ``close(within:)`` writes the rest, fsyncs and closes the file, and
/// every failed `fsync` or `close` is reported. A disk that does not answer
/// at all (frozen, a hung NFS server) cannot hold the close past its limit and ``RecordingOptions/answerGrace``:
/// the blocked call keeps its thread, and the writer closes the file once it returns.
///
/// With ``RecordingOptions/segmentDuration`` or ``RecordingOptions/segmentSize`` the recording is cut into
/// segments at 188-byte MPEG-TS packet boundaries (counted from the stream's first byte): every byte goes to
/// exactly one segment, in order, so the segments concatenated are the stream.
///
/// ```swift
/// let recorder = try await FileRecorder.create(
///     in: "recordings", options: RecordingOptions(),
///     name: { counter, segment in "cam1-20261129T153005Z\(counter > 1 ? "-\(counter)" : "").ts" },
///     report: { event in print(event) })
/// try recorder.write(message)
/// try await recorder.close(within: .seconds(10))
/// ```
final class FileRecorder: StreamSink {
    /// The first file.
    let destination: String
    private let directory: String
    /// The file name of `counter` (which keeps names unique) and the segment number (`nil` without rotation).
    private let name: @Sendable (Int, Int?) -> String
    private let counter: Int
    private let options: RecordingOptions
    private let report: @Sendable (RecordingEvent) -> Void
    private let state: Mutex<State>
    /// Wakes the writer: a chunk is ready, the fsync clock ticked, or the recording ends.
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// The writer; ``close(within:)`` waits for it.
    private let writer = Mutex<Task<Void, Never>?>(nil)
    /// When the close gives the rest up, and its timer; the deadline alone before the close began.
    private let closing = Mutex(Closing())

    private struct Closing {
        var deadline: ContinuousClock.Instant?
        var timer: Task<Void, Never>?
        /// Whether the writer ended (`true`) or was given up (`false`); set once the close began.
        var finished: FirstAnswer<Bool>?
    }

    private struct State {
        /// Bytes received and not yet taken by the writer.
        var pending: [UInt8] = []
        /// Bytes the writer took and has not written yet.
        var held = 0
        /// The most ``held`` and ``pending`` together may reach: ``RecordingOptions/heldTime`` of the stream.
        var bound: HoldBound
        /// A periodic fsync runs: the next tick starts none.
        var syncing = false
        /// Bytes received since the start: where the next message begins in the stream.
        var received: UInt64 = 0
        /// Where segments must begin (``RecordingOptions/segmentDuration``), in stream offsets, for the writer.
        var cuts: [UInt64] = []
        /// When the current segment's time began.
        var segmentStarted = ContinuousClock.now
        var ending = false
        /// The fsync clock ticked: write what waits, then fsync.
        var syncDue = false
        /// Segments opened so far (files: a taken name skipped leaves a gap in the numbers, not in this count).
        var segments = 1
        /// Why the recording cannot go on; ``write(_:)`` throws it.
        var failure: SinkError?
        /// The first error of the end (the rest given up, fsync, close), thrown by ``close(within:)``.
        var endError: SinkError?
    }

    /// The file the writer writes to now.
    private struct Segment {
        var descriptor: Int32
        var path: String
        var index: Int
        var bytes = 0
        /// Bytes whose writeback to the disk was started (``RecordingIO/startWriteback(_:_:)``).
        var writtenBack = 0
        /// The periodic fsync that runs beside the writes, if any, and its error: the segment is closed only after
        /// it, and a failure it met is part of the close's (Linux reports a failed writeback to one fsync only).
        var sync: Task<SinkError?, Never>?
    }

    /// How the writer stands in a streak of failed writes: one line when it starts, one when it ends.
    private typealias Streak = (started: ContinuousClock.Instant, retries: Int)?

    private init(
        first: Segment, directory: String, counter: Int, options: RecordingOptions,
        name: @escaping @Sendable (Int, Int?) -> String, report: @escaping @Sendable (RecordingEvent) -> Void
    ) {
        destination = first.path
        self.directory = directory
        self.counter = counter
        self.name = name
        self.options = options
        self.report = report
        var pending: [UInt8] = []
        pending.reserveCapacity(options.chunkSize)
        state = Mutex(State(pending: pending, bound: HoldBound(options: options, at: .now)))
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let task = Task { [self] in await self.run(first: first) }
        writer.withLock { $0 = task }
    }

    /// Creates `directory` (and its parents) if needed and a new file named after `name` in it, on
    /// ``RecordingIO``'s threads; never overwrites: an existing name gets a counter (`-2`, `-3`, …) from
    /// `name(counter, segment)`, and every segment of the recording keeps that counter.
    static func create(
        in directory: String, options: RecordingOptions, name: @escaping @Sendable (Int, Int?) -> String,
        report: @escaping @Sendable (RecordingEvent) -> Void
    ) async throws(SinkError) -> FileRecorder {
        let segment = options.rotates ? 1 : nil
        let create = { @Sendable () -> Result<(String, Int32, Int), SinkError> in
            do throws(SinkError) {
                try makeDirectories(directory)
                for counter in 1...namesTried {
                    let path = join(directory, name(counter, segment))
                    switch RecordingIO.create(path) {
                    case .success(let descriptor): return .success((path, descriptor, counter))
                    case .failure(let error) where error.errno == EEXIST: continue
                    case .failure(let error): throw error
                    }
                }
                throw SinkError(operation: "create a file in \(directory)", errno: EEXIST)
            } catch {
                return .failure(error)
            }
        }
        let limit = options.startLimit
        let answered = await RecordingIO.run(within: limit, create) { late in
            // Opened after the publisher was refused: the empty file is ours (O_EXCL), and nobody will write it.
            guard case .success(let (path, descriptor, _)) = late else { return }
            _ = RecordingIO.close(descriptor)
            unlink(path)
        }
        let opened: Result<(String, Int32, Int), SinkError>
        switch answered {
        case .answered(let result): opened = result
        case .gaveUp, .refused:
            throw SinkError(
                operation: "create a file in \(directory)", errno: ETIMEDOUT, kind: .diskStalled,
                detail: Task.isCancelled
                    ? "the relay shuts down"
                    : answered.isRefused
                        ? "the disk does not answer: \(RecordingIO.maximumStalledCalls) file system calls still wait"
                        : "the disk did not answer within \(Units.duration(limit))")
        }
        let (path, descriptor, counter) = try opened.get()
        return FileRecorder(
            first: Segment(descriptor: descriptor, path: path, index: 1), directory: directory, counter: counter,
            options: options, name: name, report: report)
    }

    /// How many files the recording has so far (1 without rotation).
    var segments: Int {
        state.withLock { $0.segments }
    }

    func write(_ message: [UInt8]) throws(SinkError) {
        let ready = try state.withLock { state throws(SinkError) -> Bool in
            guard let ready = try append(message, to: &state) else {
                let failure = SinkError(
                    operation: "write \(destination)", errno: ENOBUFS, kind: .heldTooMuch,
                    detail: "\(Units.bytes(UInt64(state.held + state.pending.count))) held in memory, the most a "
                        + "recording may hold while its disk does not take them")
                state.failure = failure
                throw failure
            }
            return ready
        }
        if ready { wake.yield() }
    }

    /// The whole batch in one append under one lock when it fits; otherwise message by message, so that what fits
    /// is taken and the first message past the bound ends the recording, as ``write(_:)`` does.
    func write(contentsOf batch: SRTMessageBatch, taken: inout Int) throws(SinkError) {
        guard let ready = try state.withLock({ state throws(SinkError) in try append(batch.bytes, to: &state) }) else {
            for message in batch {
                try write(Array(message))
                taken += message.count
            }
            return
        }
        taken += batch.bytes.count
        if ready { wake.yield() }
    }

    /// Appends `bytes` to what waits for the writer if they fit the bound; whether a chunk is ready then, `nil` when
    /// they do not fit (nothing taken). Throws the failure that ended the recording. Under `state`'s lock.
    private func append(_ bytes: [UInt8], to state: inout State) throws(SinkError) -> Bool? {
        if let failure = state.failure { throw failure }
        state.bound.note(received: state.received, at: .now)
        guard state.held + state.pending.count + bytes.count <= state.bound.limit else { return nil }
        cutIfTimeIsUp(&state)
        state.pending.append(contentsOf: bytes)
        state.received += UInt64(bytes.count)
        return state.pending.count >= options.chunkSize
    }

    /// A segment's time is up: what arrives now begins the next one (at the packet boundary at or before it).
    private func cutIfTimeIsUp(_ state: inout State) {
        guard let duration = options.segmentDuration, ContinuousClock.now - state.segmentStarted >= duration else {
            return
        }
        let cut = state.received - state.received % RecordingOptions.packetSize
        if cut > (state.cuts.last ?? 0) { state.cuts.append(cut) }
        state.segmentStarted = .now
    }

    /// Writes what is held, fsyncs and closes the file. A writer still retrying after `limit` (or the shorter one
    /// of ``hurry(within:)``) gives the rest up; one that waits in a file system call the disk does not answer
    /// (frozen, a hung NFS server) is given up ``RecordingOptions/answerGrace`` later, with an error that says so.
    func close(within limit: Duration) async throws(SinkError) {
        state.withLock { $0.ending = true }
        // The writer takes the rest at this wakeup, writes it and leaves.
        wake.yield()
        wake.finish()
        guard let task = writer.withLock({ $0 }) else { return }
        let started = ContinuousClock.now
        let finished = FirstAnswer<Bool>()
        closing.withLock { closing in
            // A shutdown that came first shortens the limit already.
            let deadline = min(started + limit, closing.deadline ?? started + limit)
            closing.deadline = deadline
            closing.finished = finished
            closing.timer = giveUp(task, at: deadline, finished: finished)
        }
        // The timers are tasks of their own, so that a cancelled caller (the shutdown) still lets the writer
        // finish within the limit.
        Task {
            await task.value
            finished.give(true)
        }
        let answered = await finished.value
        closing.withLock { $0.timer?.cancel() }
        guard answered else {
            // The writer's thread stays blocked in the kernel until the disk answers, if ever; the writer then
            // closes the file. Until then it keeps that one call and its bytes: what was held is dropped now.
            let lost = state.withLock { state in
                let lost = state.held + state.pending.count
                state.pending = []
                return lost
            }
            RecordingIO.countStalled(until: task)
            throw SinkError(
                operation: "write \(destination)", errno: ETIMEDOUT, kind: .diskStalled,
                detail: "the disk did not answer within \(Units.duration(.now - started)): "
                    + "\(Units.bytes(UInt64(lost))) could not be written, and the file is closed only once it answers")
        }
        if let error = state.withLock({ $0.endError }) { throw error }
    }

    /// Shortens the close, begun or to come, to end within `limit` from now (the shutdown's limit); a longer
    /// limit changes nothing.
    func hurry(within limit: Duration) {
        let task = writer.withLock { $0 }
        closing.withLock { closing in
            let deadline = ContinuousClock.now + limit
            if let current = closing.deadline, current <= deadline { return }
            closing.deadline = deadline
            // Not closing yet: ``close(within:)`` takes the deadline.
            guard let finished = closing.finished, let task else { return }
            closing.timer?.cancel()
            closing.timer = giveUp(task, at: deadline, finished: finished)
        }
    }

    /// The close's timer: cancels the writer at `deadline` (it gives the rest up, fsyncs and closes the file),
    /// and stops waiting for it ``RecordingOptions/answerGrace`` later. Cancelled when the writer ended or a
    /// shorter deadline replaced it.
    private func giveUp(
        _ task: Task<Void, Never>, at deadline: ContinuousClock.Instant, finished: FirstAnswer<Bool>
    ) -> Task<Void, Never> {
        let grace = options.answerGrace
        return Task {
            do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
            task.cancel()
            do { try await Task.sleep(for: grace) } catch { return }
            finished.give(false)
        }
    }

    /// The writer: takes what ``write(_:)`` gathered at each wakeup and writes it, and fsyncs every
    /// ``RecordingOptions/fsyncInterval``, until the end or a failure; then fsyncs and closes the file.
    private func run(first: Segment) async {
        var segment = first
        await withTaskGroup(of: Void.self) { group in
            if let interval = options.fsyncInterval {
                group.addTask { await self.tick(every: interval) }
            }
            await writeUntilTheEnd(into: &segment)
            group.cancelAll()
        }
        await finish(segment)
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
    private func writeUntilTheEnd(into segment: inout Segment) async {
        var streak: Streak = nil
        // Bytes written so far, all segments together: the stream offset of the next byte.
        var written: UInt64 = 0
        var cuts: [UInt64] = []
        // The writer's buffer, swapped with `pending` at each wakeup rather than copied out of it: taking `pending`
        // by copy made its next append allocate a fresh buffer, at 500 Mbit/s a thousand a second, each of them
        // faulted in and, once grown past glibc's mmap threshold, unmapped with a TLB shootdown on every core.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(options.chunkSize)
        for await _ in wakeups {
            let (ending, syncDue, newCuts) = state.withLock { state in
                swap(&state.pending, &bytes)
                let taken = (state.ending, state.syncDue, state.cuts)
                state.held += bytes.count
                state.cuts.removeAll()
                state.syncDue = false
                return taken
            }
            cuts += newCuts
            // Space ran low (measured by the watch): the recording ends; what it holds is still written.
            if options.space?.isLow == true { endForLowSpace() }
            do {
                try await write(bytes, into: &segment, at: &written, cuts: &cuts, streak: &streak)
            } catch {
                // A lasting error, or the end came while retrying: what is held cannot be written.
                state.withLock { state in
                    if state.failure == nil { state.failure = error }
                }
                return
            }
            if ending { return }
            // Unique again once written: emptied in place for the next swap. One that a slow disk let grow far
            // past a chunk is given back rather than kept for the recording's life.
            if bytes.capacity > 4 * options.chunkSize {
                bytes = []
                bytes.reserveCapacity(options.chunkSize)
            } else {
                bytes.removeAll(keepingCapacity: true)
            }
            if syncDue { startSync(&segment) }
        }
    }

    /// Starts the periodic fsync beside the writes that follow. While the last one still runs (a disk slower than the
    /// interval) the tick stays due, and the writer's next wakeup after it ends starts the next: one at a time per
    /// recording. Waiting for it held the writes back: at 500 Mbit/s on a loaded machine one took 152 ms, and the
    /// recording ended at its bound. A failed fsync is reported and the recording goes on: what follows may still
    /// reach the disk.
    private func startSync(_ segment: inout Segment) {
        let running = state.withLock { state in
            if state.syncing {
                state.syncDue = true
                return true
            }
            state.syncing = true
            return false
        }
        guard !running else { return }
        let (descriptor, path) = (segment.descriptor, segment.path)
        segment.sync = Task {
            let code = await RecordingIO.runBeside { RecordingIO.sync(descriptor) }
            state.withLock { $0.syncing = false }
            guard let code else { return nil }
            let error = SinkError(operation: "fsync \(path)", errno: code)
            report(.outputError(error))
            return error
        }
    }

    /// Writes `bytes`, which begin at stream offset `written`, into the current segment, moving to the next one at
    /// each cut and at each ``RecordingOptions/segmentSize``. A segment is opened only for bytes that go into it,
    /// so none is ever empty.
    private func write(
        _ bytes: [UInt8], into segment: inout Segment, at written: inout UInt64, cuts: inout [UInt64],
        streak: inout Streak
    ) async throws(SinkError) {
        let packet = RecordingOptions.packetSize
        var offset = 0
        while offset < bytes.count {
            // Cuts at or before the start of this segment are where it began already.
            while let cut = cuts.first, cut <= written, segment.bytes == 0 { cuts.removeFirst() }
            let full = options.segmentSize.map { segment.bytes >= $0 } ?? false
            let atCut = cuts.first.map { written >= $0 && written % packet == 0 } ?? false
            if segment.bytes > 0 && (full || atCut) {
                // A duration cut restarted the clock when its message arrived; only a size cut restarts it here.
                try await rotate(&segment, restartingClock: !atCut, streak: &streak)
                continue
            }
            var end = bytes.count
            if let size = options.segmentSize { end = min(end, offset + size - segment.bytes) }
            if let cut = cuts.first {
                // A cut that lies behind (a stream not made of whole packets) moves to the next packet boundary.
                let target = cut > written ? cut : (written + packet - 1) / packet * packet
                end = min(end, offset + Int(target - written))
            }
            try await write(bytes, offset..<end, to: segment.descriptor, path: segment.path, streak: &streak)
            segment.bytes += end - offset
            written += UInt64(end - offset)
            offset = end
            await startWriteback(&segment)
        }
    }

    /// Starts the disk writes of each whole ``RecordingOptions/writebackStep`` written since the last, without
    /// waiting for them: the kernel would otherwise keep seconds of a fast stream dirty in memory (it starts on its
    /// own only at a tenth of the RAM), and the periodic fsync would then write them all at once while the
    /// recording waits: 312 MB after 5 s at 500 Mbit/s, longer than the 8 MiB the recording may hold lasts.
    private func startWriteback(_ segment: inout Segment) async {
        let step = RecordingOptions.writebackStep
        let end = segment.bytes / step * step
        guard end > segment.writtenBack else { return }
        let (descriptor, range) = (segment.descriptor, segment.writtenBack..<end)
        await RecordingIO.run { RecordingIO.startWriteback(descriptor, range) }
        segment.writtenBack = end
    }

    /// Writes `bytes[range]` whole; a transient error is retried with backoff until it clears or the writer is
    /// cancelled (``close(within:)``'s limit).
    private func write(
        _ bytes: [UInt8], _ range: Range<Int>, to descriptor: Int32, path: String, streak: inout Streak
    ) async throws(SinkError) {
        var offset = range.lowerBound
        try await retrying(streak: &streak) { () async throws(SinkError) in
            let (start, space) = (offset, options.space)
            let (written, reading) = await RecordingIO.run {
                // The free space after the write, measured on the same thread: `--min-free` ends the recording.
                let written = RecordingIO.write(descriptor, bytes, start..<range.upperBound)
                return (written, space == nil ? nil : DiskSpaceGuard.measure(descriptor: descriptor))
            }
            offset += written.count
            state.withLock { $0.held -= written.count }
            if let space, let reading, space.record(reading) { endForLowSpace() }
            if let code = written.errno { throw SinkError(operation: "write \(path)", errno: code) }
        }
    }

    /// Runs `operation` with the `Supervisor` module's `retry` and ``RecordingOptions/retryBackoff`` while it
    /// fails with a transient error; one event when a streak of failures begins, one when it ends.
    private func retrying(
        streak: inout Streak, _ operation: () async throws(SinkError) -> Void
    ) async throws(SinkError) {
        do {
            try await retry(backoff: options.retryBackoff, maxAttempts: Int.max) {
                try await operation()
            } onRetry: { attempt in
                if streak == nil {
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

    /// Ends the current segment (fsync, close) and opens the next one, retrying transient errors; restarts the
    /// segment's clock when asked (a size cut).
    ///
    /// A name that is taken (a stray file: an earlier recording of the same stream in the same second whose first
    /// segments were moved away) is skipped for the next number, never overwritten: the numbers keep their order,
    /// with a gap.
    private func rotate(
        _ segment: inout Segment, restartingClock: Bool, streak: inout Streak
    ) async throws(SinkError) {
        await close(&segment)
        let (directory, name, counter, first) = (directory, name, counter, segment.index + 1)
        var opened: (descriptor: Int32, path: String, index: Int) = (-1, "", first)
        try await retrying(streak: &streak) { () async throws(SinkError) in
            opened = try await RecordingIO.run { () -> Result<(Int32, String, Int), SinkError> in
                // Bounded: a directory that holds the next 1000 names is a mistake to report, not to search.
                for index in first..<first + Self.namesTried {
                    let path = Self.join(directory, name(counter, index))
                    switch RecordingIO.create(path) {
                    case .success(let descriptor): return .success((descriptor, path, index))
                    case .failure(let error) where error.errno == EEXIST: continue
                    case .failure(let error): return .failure(error)
                    }
                }
                return .failure(
                    SinkError(
                        operation: "create \(Self.join(directory, name(counter, first))) or any of the next "
                            + "\(Self.namesTried - 1) segments' names",
                        errno: EEXIST))
            }.get()
        }
        let (path, index) = (opened.path, opened.index)
        segment = Segment(descriptor: opened.descriptor, path: path, index: index)
        state.withLock { state in
            state.segments += 1
            // A cut by size starts the next segment's time too. Not a cut by time: its clock restarted when the
            // message that began the segment arrived, and restarting it now, at the writer's wakeup (up to an
            // fsync interval later), would stretch every segment to that interval.
            if restartingClock { state.segmentStarted = .now }
        }
        report(.segmentOpened(path: path, index: index))
    }

    /// Ends the recording because free space is below `--min-free`: the next ``write(_:)`` throws the reason.
    private func endForLowSpace() {
        guard let space = options.space else { return }
        state.withLock { state in
            if state.failure == nil { state.failure = space.lowSpaceError() }
        }
    }

    /// `fsync` on ``RecordingIO``'s threads; the error, if any.
    private func sync(_ segment: Segment) async -> SinkError? {
        let descriptor = segment.descriptor
        guard let code = await RecordingIO.run({ RecordingIO.sync(descriptor) }) else { return nil }
        return SinkError(operation: "fsync \(segment.path)", errno: code)
    }

    /// `fsync` and `close` of a segment; each failure is reported and returned.
    @discardableResult
    private func close(_ segment: inout Segment) async -> [SinkError] {
        guard segment.descriptor >= 0 else { return [] }
        // A periodic fsync still running on the descriptor ends before it is closed. Its failure was reported when
        // it came; it belongs to the close's errors too, as the last fsync may not see it again.
        let periodic = await segment.sync?.value ?? nil
        segment.sync = nil
        var errors: [SinkError] = []
        if let error = await sync(segment) { errors.append(error) }
        let descriptor = segment.descriptor
        segment.descriptor = -1
        if let code = await RecordingIO.run({ RecordingIO.close(descriptor) }) {
            errors.append(SinkError(operation: "close \(segment.path)", errno: code))
        }
        for error in errors { report(.outputError(error)) }
        return (periodic.map { [$0] } ?? []) + errors
    }

    /// Closes the recording: counts what could not be written, then `fsync` and `close`; every failure is
    /// reported, and the first one is what ``close(within:)`` throws.
    private func finish(_ last: Segment) async {
        var segment = last
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
        errors += await close(&segment)
        state.withLock { state in
            if state.endError == nil { state.endError = errors.first }
        }
    }

    /// How many names a new file tries before it gives up: the first recording's counters, a segment's numbers.
    private static let namesTried = 1000

    /// `directory/name`.
    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : "\(directory)/\(name)"
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
