import CSRT
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs one listener's ``SRTAccessControl`` on a thread of its own, so that libsrt's receive thread, which asks for
/// each decision while it holds the listener lock (`Docs/libsrt-failure-modes.md §8`), waits at most the access
/// control's deadline.
///
/// ```swift
/// let worker = try AccessControlWorker.start(access, logger: logger)
/// switch worker.decide(request) {               // on the receive thread: returns within access.deadline
/// case .decided(let decision): use(decision)
/// case .timedOut, .busy, .closed: reject(.unavailable)
/// }
/// worker.close()                                // joins the thread, or detaches it while a decision is stuck
/// ```
///
/// One decision at a time. The receive thread hands a request over and waits on a condition (monotonic clock) until
/// the answer or the deadline. A decision still running past its deadline keeps the thread: requests arriving
/// meanwhile are refused at once (``Outcome/busy``), never queued behind it, so the receive thread waits at most one
/// deadline per handshake, and not at all while the closure is known to be stuck. A late answer is dropped: its
/// caller was already rejected.
///
/// Not Dispatch. On Linux, Swift concurrency's global executor is a Dispatch queue as wide as the CPUs on top of
/// the same root queue as `DispatchQueue.global()`: one pool of about one thread per core, grown by libdispatch's
/// monitor by one thread a second when its threads block, and served in order. Measured on 2 cores: with 2 pool
/// threads blocked (two stuck closures, or two Swift tasks in a synchronous wait), a quick block waited 0.98 s; with
/// 8 stuck closures, 5.98 s. So a decision on Dispatch misses a 50 ms deadline whenever the process's pool is busy,
/// and every stuck decision takes a thread from every Swift task of the process; a handshake that arrives while
/// decisions are stuck queues one more stuck block behind them (libsrt callers repeat their handshake), faster than
/// the monitor adds threads. A Dispatch variant of this type ran the 50-handshake test in 36-61 s instead of 1.2 s,
/// with callers timing out (1001), and made quick decisions time out when the test itself waited on the pool. A
/// thread of our own is always there, costs one idle thread per listener, and is the one thing ``close()`` ends.
final class AccessControlWorker: @unchecked Sendable {
    // @unchecked: every mutable field below is read and written only with `mutex` held.

    /// What the receive thread gets.
    enum Outcome: Hashable, Sendable {
        /// The closure answered within the deadline.
        case decided(SRTAccessDecision)
        /// The closure did not answer within the deadline; it goes on running, and its answer will be dropped.
        case timedOut
        /// An earlier decision is still running past its deadline: refused without waiting.
        case busy
        /// The listener was closed.
        case closed
    }

    private struct Request {
        let id: UInt64
        let request: SRTAccessRequest
    }

    private struct Running {
        let id: UInt64
        let started: ContinuousClock.Instant
        /// Set by the receive thread when it gave up waiting for this decision.
        var overdue = false
    }

    /// At most one warning per second; the next one says how many were left out.
    private struct WarningLimiter {
        var last: ContinuousClock.Instant?
        var suppressed = 0

        /// The number of warnings left out since the last one, when this one may be logged; `nil` otherwise.
        mutating func admit(_ now: ContinuousClock.Instant) -> Int? {
            if let last, now - last < .seconds(1) {
                suppressed += 1
                return nil
            }
            defer {
                last = now
                suppressed = 0
            }
            return suppressed
        }
    }

    let access: SRTAccessControl
    private let logger: Logger
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Signalled on a new request, an answer, and close; both sides re-check their own condition.
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private var thread = pthread_t()
    /// The kernel's id of the worker thread (`/proc/self/task/<id>`), for tests.
    private var threadID: pid_t = 0
    private var pending: Request?
    private var running: Running?
    private var answer: (id: UInt64, decision: SRTAccessDecision)?
    private var nextID: UInt64 = 0
    private var closed = false
    /// Requests refused while the current decision is overdue, reported when it finally returns.
    private var refusedMeanwhile = 0
    private var limiter = WarningLimiter()
    /// The longest the receive thread waited in ``decide(_:)``, for tests.
    private var longestWaitSoFar = Duration.zero

    private init(_ access: SRTAccessControl, logger: Logger) {
        self.access = access
        self.logger = logger
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
            // Deadlines on the monotonic clock: a wall-clock step must neither stretch nor cut a wait.
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Starts the thread that will run `access`.
    ///
    /// - Throws: ``SRTError`` with code ``SRTError/Code/thread`` and the errno of `pthread_create` (EAGAIN when the
    ///   process or the system is out of threads): a resource that comes back, so the supervisor retries.
    static func start(_ access: SRTAccessControl, logger: Logger) throws(SRTError) -> AccessControlWorker {
        let worker = AccessControlWorker(access, logger: logger)
        // The thread holds the worker (and so the user's closure) until it exits.
        let box = Unmanaged.passRetained(worker).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                let worker = Unmanaged<AccessControlWorker>.fromOpaque(argument!).takeRetainedValue()
                worker.loop()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<AccessControlWorker>.fromOpaque(box).release()
            throw SRTError(
                code: .thread, systemErrno: result, operation: .init("pthread_create (access control)"),
                message: "cannot start the access-control thread")
        }
        pthread_mutex_lock(worker.mutex)
        worker.thread = thread
        pthread_mutex_unlock(worker.mutex)
        return worker
    }

    /// Asks the closure about `request` and waits at most ``SRTAccessControl/deadline``; called on libsrt's receive
    /// thread.
    func decide(_ request: SRTAccessRequest) -> Outcome {
        let arrived = ContinuousClock.now
        pthread_mutex_lock(mutex)
        guard !closed else {
            pthread_mutex_unlock(mutex)
            return .closed
        }
        // Only an overdue decision can still be running when the (single) receive thread asks again.
        if let running {
            refusedMeanwhile += 1
            let suppressed = limiter.admit(arrived)
            pthread_mutex_unlock(mutex)
            access.counters.refusedWhileOverdue.add(1, ordering: .relaxed)
            if let suppressed {
                logger.warning(
                    "access control still busy with a decision overdue for \(arrived - running.started): caller rejected at once with \(SRTRejectReason.unavailable.code)",
                    metadata: ["srt.access.suppressed": "\(suppressed)"])
            }
            return .busy
        }
        nextID += 1
        let id = nextID
        pending = Request(id: id, request: request)
        pthread_cond_broadcast(condition)
        var deadline = Self.monotonicInstant(after: access.deadline)
        var outcome: Outcome?
        // Timed out before the thread even took the request: the machine starved it of CPU, the closure is innocent.
        var neverStarted = false
        while outcome == nil {
            if let answer, answer.id == id {
                outcome = .decided(answer.decision)
            } else if closed {
                if pending?.id == id { pending = nil }
                outcome = .closed
            } else if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT {
                if let answer, answer.id == id {
                    outcome = .decided(answer.decision)
                } else {
                    // Never started: withdraw it, nobody needs its answer now.
                    if pending?.id == id {
                        pending = nil
                        neverStarted = true
                    }
                    if running?.id == id { running?.overdue = true }
                    outcome = .timedOut
                }
            }
        }
        let waited = ContinuousClock.now - arrived
        longestWaitSoFar = max(longestWaitSoFar, waited)
        let suppressed = outcome == .timedOut ? limiter.admit(arrived + waited) : nil
        pthread_mutex_unlock(mutex)
        switch outcome {
        case .decided: access.counters.answeredInTime.add(1, ordering: .relaxed)
        case .timedOut: access.counters.timedOut.add(1, ordering: .relaxed)
        default: break
        }
        if let suppressed {
            let why =
                neverStarted
                ? "its thread got no CPU in time (the process is starved)"
                : "the decision goes on running on its own thread"
            logger.warning(
                "access control gave no decision within \(access.deadline): caller rejected with \(SRTRejectReason.unavailable.code); \(why)",
                metadata: ["srt.access.suppressed": "\(suppressed)"])
        }
        return outcome ?? .closed
    }

    /// Stops the thread: joins it when it is idle; detaches it when the closure is running (stuck past its deadline,
    /// or this call comes from inside it), and the thread then ends as soon as the closure returns. Idempotent.
    func close() {
        pthread_mutex_lock(mutex)
        guard !closed else {
            pthread_mutex_unlock(mutex)
            return
        }
        closed = true
        let busy = running != nil
        let thread = self.thread
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
        if busy || pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    /// The kernel's id of the worker thread, once it runs (`/proc/self/task/<id>`).
    var workerThreadID: pid_t {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return threadID
    }

    /// The longest the receive thread has waited in ``decide(_:)``.
    var longestWait: Duration {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return longestWaitSoFar
    }

    private func loop() {
        csrt_name_current_thread("srt-access")
        pthread_mutex_lock(mutex)
        threadID = csrt_thread_id()
        while true {
            while pending == nil && !closed { pthread_cond_wait(condition, mutex) }
            guard !closed, let request = pending else { break }
            pending = nil
            running = Running(id: request.id, started: ContinuousClock.now)
            pthread_mutex_unlock(mutex)
            let decision = access.decide(request.request)
            pthread_mutex_lock(mutex)
            let finished = running
            running = nil
            answer = (request.id, decision)
            pthread_cond_broadcast(condition)
            guard let finished, finished.overdue else { continue }
            let refused = refusedMeanwhile
            refusedMeanwhile = 0
            let now = ContinuousClock.now
            let suppressed = limiter.admit(now)
            pthread_mutex_unlock(mutex)
            if let suppressed {
                logger.warning(
                    "access control returned after \(now - finished.started) (deadline \(access.deadline)); \(refused) later callers were rejected at once meanwhile",
                    metadata: ["srt.access.suppressed": "\(suppressed)"])
            }
            pthread_mutex_lock(mutex)
        }
        pthread_mutex_unlock(mutex)
    }

    /// The monotonic clock's time `duration` from now, as `pthread_cond_timedwait` wants it.
    private static func monotonicInstant(after duration: Duration) -> timespec {
        var now = timespec()
        #if canImport(Glibc)
            clock_gettime(CLOCK_MONOTONIC, &now)
        #else
            clock_gettime(CLOCK_REALTIME, &now)
        #endif
        var result = timespec(
            tv_sec: now.tv_sec + Int(duration.components.seconds),
            tv_nsec: now.tv_nsec + Int(duration.nanosecondsOfSecond))
        if result.tv_nsec >= 1_000_000_000 {
            result.tv_sec += 1
            result.tv_nsec -= 1_000_000_000
        }
        return result
    }
}
