import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whole lines for one descriptor (standard output or standard error), written by a thread of their own: whoever
/// prints (libsrt's threads through the log, the relay's tasks) only appends to a bounded queue and never waits
/// for the reader. When nobody reads (a full pipe), the writer thread waits alone; once the queue is full, new lines
/// are dropped and counted, and a notice with the count takes their place as soon as there is room again.
///
/// ```swift
/// let output = OutputQueue(descriptor: STDOUT_FILENO) { count in "\(count) lines dropped\n" }
/// output.enqueue("12:00:00.000 listening on 0.0.0.0:9000\n")
/// _ = await output.waitUntilWritten(within: .milliseconds(250))   // before the process exits
/// ```
final class OutputQueue: Sendable {
    /// The most lines held for the writer…
    static let maxLines = 1024
    /// …and the most bytes.
    static let maxBytes = 256 * 1024

    private struct State {
        var lines: [String] = []
        var bytes = 0
        /// Lines dropped since the last notice.
        var pendingDrops = 0
        /// Whether the writer thread holds lines it has not written yet.
        var writing = false
        /// No writer thread: ``enqueue(_:)`` writes.
        var inline = false
    }

    let descriptor: Int32
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    /// Lines dropped since start, ever increasing.
    let dropped = Atomic<Int>(0)
    /// The line that stands for `count` dropped lines.
    private let notice: @Sendable (Int) -> String

    /// Starts the writer thread for `descriptor`; `notice` makes the line that reports dropped lines.
    init(descriptor: Int32, notice: @escaping @Sendable (Int) -> String) {
        self.descriptor = descriptor
        self.notice = notice
        // A thread of its own: a write that blocks (a full pipe) must not hold a thread of the concurrency pool. It
        // holds the queue for the life of the process.
        let started = DetachedThread.start { [self] in
            while true {
                wakeup.wait()
                drain()
            }
        }
        // No thread to be had (the process is at its limit): lines are written by whoever prints, as they come.
        if !started { self.state.withLock { $0.inline = true } }
    }

    /// Standard error, for the library's log (``EscapedStandardError``).
    static let standardError = OutputQueue(descriptor: STDERR_FILENO) { count in
        "srt-relay: \(count) log line\(count == 1 ? "" : "s") dropped: standard error was not being read\n"
    }

    /// Appends one whole line (newline included) without waiting; `false` when it was dropped (the queue is full).
    @discardableResult
    func enqueue(_ line: String) -> Bool {
        let accepted = state.withLock { state in
            if state.inline {
                Console.writeAll(line, to: descriptor)
                return true
            }
            guard state.lines.count < Self.maxLines, state.bytes + line.utf8.count <= Self.maxBytes else {
                state.pendingDrops += 1
                return false
            }
            state.lines.append(line)
            state.bytes += line.utf8.count
            return true
        }
        if accepted { wakeup.signal() } else { dropped.add(1, ordering: .relaxed) }
        return accepted
    }

    /// Whether every line so far is written (none queued, none held by the writer).
    var isIdle: Bool {
        state.withLock { $0.lines.isEmpty && !$0.writing && $0.pendingDrops == 0 }
    }

    /// Waits until every line so far is written, at most `limit`; `false` when the reader is still behind.
    func waitUntilWritten(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !isIdle {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// ``waitUntilWritten(within:)`` for a thread outside the concurrency pool (a Dispatch timer at exit).
    func waitUntilWrittenBlocking(within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while !isIdle {
            guard ContinuousClock.now < deadline else { return false }
            usleep(2000)
        }
        return true
    }

    /// Writes every queued line, and a notice where lines were dropped, until the queue is empty.
    private func drain() {
        while true {
            let batch = state.withLock { state -> [String] in
                var batch = state.lines
                // The notice goes after the lines queued before the drops, where the gap is.
                if state.pendingDrops > 0 {
                    batch.append(notice(state.pendingDrops))
                    state.pendingDrops = 0
                }
                state.lines.removeAll(keepingCapacity: true)
                state.bytes = 0
                state.writing = !batch.isEmpty
                return batch
            }
            guard !batch.isEmpty else { return }
            // One write for the batch where it fits: whole lines, in order. A reader that went away (EPIPE) loses
            // them: counted as dropped.
            if !Console.writeAll(batch.joined(), to: descriptor) { dropped.add(batch.count, ordering: .relaxed) }
            state.withLock { $0.writing = false }
        }
    }
}
