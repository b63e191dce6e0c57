import CSRT

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One dedicated thread (named `srt-control`) that runs the adapter's libsrt calls that can wait on libsrt's global
/// lock, so that such a wait stalls no task of Swift's cooperative pool.
///
/// libsrt 1.5.1 takes one process-wide mutex (`m_GlobControlLock`) in `srt_close`, `srt_create_socket`,
/// `srt_bind`, `srt_bind_acquire`, `srt_listen`, `srt_connect`, `srt_accept`, `srt_bstats`, `srt_getsockstate`,
/// `srt_setsockflag` and `srt_epoll_add_usock`/`srt_epoll_remove_usock` (all of them look the socket up under it).
/// Its garbage collector holds that mutex while it tears down closed sockets, about a second after their close, and
/// joins the threads of each multiplexer it frees under it: after a mass close every such call waits, for tenths of
/// a second. On the pool (two threads on two cores) a few of those waits stop every task of the process.
///
/// ```swift
/// // Fire and forget: returns at once, the close runs on the thread in submission order.
/// SRTControlThread.shared.submit { srt_close(socket) }
/// // Awaiting a result: the task is suspended, no pool thread waits.
/// let listener = try await SRTControlThread.shared.run { () throws(SRTError) in try SRTListenSocket.open(config) }
/// // Until every close submitted so far ran (tests that count descriptors, shutdown).
/// await SRTControlThread.shared.idle()
/// ```
///
/// Work runs in submission order, one item at a time: every call here would serialise on libsrt's global lock
/// anyway, and the order keeps a close before a bind of the same port. When the thread cannot be made (the process
/// is out of threads), work runs on the caller instead, as it did without this thread.
///
/// Not swift-nio's `NIOThreadPool`: the adapter does not depend on swift-nio, and that pool wants an explicit
/// `start()`/`shutdown` around its life, where this thread lives as long as the process, like the reactor's.
final class SRTControlThread: @unchecked Sendable {
    // @unchecked: every mutable field below is read and written only with `mutex` held.

    /// The control thread of the process, started on first use.
    static let shared = SRTControlThread()

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Signalled when work arrives and when stopping; the thread re-checks both.
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let threadStarter: ReactorThreadStarter

    private var queue: [(body: @Sendable () -> Void, origin: String)] = []
    /// The longest a work item ran, and where it was submitted (for tests and diagnostics).
    private var slowest: (duration: Duration, origin: String) = (.zero, "")
    private var started = false
    /// The thread could not be made: work runs on the caller.
    private var inline = false
    /// The thread runs a batch taken off the queue.
    private var busy = false
    private var stopping = false
    private var stopped = false
    private var completed = 0

    init(threadStarter: ReactorThreadStarter = .posix) {
        self.threadStarter = threadStarter
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` on the thread after everything submitted before it; returns at once.
    func submit(_ body: @escaping @Sendable () -> Void, file: StaticString = #fileID, line: UInt = #line) {
        pthread_mutex_lock(mutex)
        if !started {
            started = true
            // The thread holds this object until it exits; it exits only at the process's exit.
            inline = threadStarter.start { [self] in loop() } != 0
        }
        let runHere = inline || stopped
        if !runHere {
            queue.append((body, "\(file):\(line)"))
            pthread_cond_signal(condition)
        }
        pthread_mutex_unlock(mutex)
        if runHere { body() }
    }

    /// Runs `body` on the thread and returns its result; the calling task is suspended meanwhile, so no pool thread
    /// waits. Not cancellable: the work is one libsrt call or a few, bounded by libsrt's lock.
    func run<T: Sendable, E: Error>(
        file: StaticString = #fileID, line: UInt = #line, _ body: @escaping @Sendable () throws(E) -> T
    ) async throws(E) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, E>, Never>) in
            submit(
                { continuation.resume(returning: Result { () throws(E) -> T in try body() }) }, file: file, line: line)
        }
        return try result.get()
    }

    /// Returns once everything submitted before the call has run: an empty item queued behind it (the queue runs in
    /// order). Work submitted afterwards is not waited for, so a busy process cannot keep the caller waiting.
    func idle() async {
        await run { () throws(Never) in () }
    }

    /// The longest a work item ran so far, and the source line that submitted it (for tests and diagnostics).
    var slowestItem: (duration: Duration, origin: String) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return slowest
    }

    /// How many work items the thread has run (for tests).
    var completedCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return completed
    }

    /// Lets the queued work finish (at most `limit`), then stops the thread; later work runs on its caller. For the
    /// process's exit, before `srt_cleanup`: a close still queued must not run while libsrt's state is freed.
    func quiesceForExit(limit: Duration = .seconds(1)) {
        pthread_mutex_lock(mutex)
        let running = started && !inline && !stopped
        stopping = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
        guard running else { return }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            pthread_mutex_lock(mutex)
            let done = stopped
            pthread_mutex_unlock(mutex)
            if done { return }
            usleep(1000)
        }
    }

    private func loop() {
        csrt_name_current_thread("srt-control")
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(condition, mutex) }
            if queue.isEmpty {
                // Stopping, and nothing left to run.
                stopped = true
                pthread_mutex_unlock(mutex)
                return
            }
            let batch = queue
            queue = []
            busy = true
            pthread_mutex_unlock(mutex)
            var slowestInBatch: (duration: Duration, origin: String) = (.zero, "")
            for item in batch {
                let started = ContinuousClock.now
                item.body()
                let took = ContinuousClock.now - started
                if took > slowestInBatch.duration { slowestInBatch = (took, item.origin) }
            }
            pthread_mutex_lock(mutex)
            if slowestInBatch.duration > slowest.duration { slowest = slowestInBatch }
            busy = false
            completed += batch.count
            pthread_mutex_unlock(mutex)
        }
    }
}
