import CSRT
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one libsrt runtime of the process: startup, the log bridge to swift-log, the "a receive thread died" signal,
/// and a way out of the process that cannot hang.
///
/// Every adapter type starts the runtime on first use; call ``start(logger:logLevel:logRateLimit:)`` yourself only to
/// choose the logger, the level or the log's rate limit before the first socket exists.
///
/// ```swift
/// SRTRuntime.start(logger: Logger(label: "srt"), logLevel: .warning)
///
/// // Anyone may learn that some receive thread died (libsrt does not say which port: check every listener).
/// Task {
///     for await _ in SRTRuntime.receiveThreadDeaths() {
///         if await !listener.probe(timeout: .milliseconds(100)).isAlive { … }   // SRTListener does this for you
///     }
/// }
///
/// // At the end of main: never plain `exit()` after a death, libsrt's static destructor would spin forever.
/// SRTRuntime.exit(0)
/// ```
///
/// Why it exists (`Docs/libsrt-failure-modes.md` §2, §3, §4, §8): `srt_startup`/`srt_cleanup` are reference-counted and
/// process-wide; the log handler is the *only* notification that a UDP receive thread exited; after such an exit
/// `srt_cleanup`, and therefore `exit()`, never returns.
public enum SRTRuntime {
    /// libsrt's log levels are syslog's: 2 critical, 3 error, 4 warning, 5 notice, 6 info, 7 debug.
    static let criticalLevel: Int32 = 2

    /// One libsrt message, kept by the rate limiter as the last of its kind.
    struct LibsrtMessage: Sendable {
        let level: Int32
        let area: String
        let file: String
        let line: Int
        let text: String
    }

    private struct State {
        var started = false
        var logger = Logger(label: "srt")
        var limiter = LogRateLimiter<LibsrtMessage>(
            burst: SRTLogRateLimit.standard.burst, interval: SRTLogRateLimit.standard.interval)
        /// Whether a task waits to give out the summaries of counted messages.
        var summaryTaskArmed = false
        var deaths: [ReceiveThreadDeath] = []
        /// Deaths listeners found with no log line: for ``hasSeenReceiveThreadDeath`` only.
        var unloggedDeaths: [ReceiveThreadDeath] = []
        var subscribers: [Int: AsyncStream<ReceiveThreadDeath>.Continuation] = [:]
        var nextSubscriber = 0
    }

    private static let state = Mutex(State())

    /// Starts libsrt once for the process and installs the log bridge; later calls only replace the logger and
    /// the level. Thread-safe.
    ///
    /// - Parameters:
    ///   - logger: where libsrt's own messages go; their level is mapped (critical, error, warning, notice, info,
    ///     debug) and the metadata carries `srt.area`, `srt.file`, `srt.line`.
    ///   - logLevel: the most verbose level libsrt produces. Critical messages always arrive, whatever the level,
    ///     because the receive-thread-death signal depends on them.
    ///   - logRateLimit: how many messages of one kind (one line of libsrt's source) reach `logger` before they
    ///     are counted into one summary line per interval; `nil` keeps the current one (at first
    ///     ``SRTLogRateLimit/standard``). Critical messages are never held back.
    public static func start(
        logger: Logger? = nil, logLevel: Logger.Level = .error, logRateLimit: SRTLogRateLimit? = nil
    ) {
        let firstTime = state.withLock { state in
            if let logger { state.logger = logger }
            if let logRateLimit {
                state.limiter = LogRateLimiter(burst: logRateLimit.burst, interval: logRateLimit.interval)
            }
            defer { state.started = true }
            return !state.started
        }
        if firstTime {
            // Reference-counted inside libsrt; this process keeps its one reference until exit.
            srt_startup()
            // Bare messages: swift-log adds its own time, level and newline.
            csrt_set_bare_log_messages()
            srt_setloghandler(nil, logHandler)
            // Runs before libsrt's static destructors (registered earlier, so run later).
            atexit { SRTRuntime.prepareForExit() }
            // Opened while descriptors are plentiful: retiring a dead socket must work when they are not.
            _ = spareNullDescriptor
        }
        srt_setloglevel(max(criticalLevel, srtLevel(for: logLevel)))
    }

    /// Starts the runtime with its defaults unless it already runs; every adapter entry point calls it.
    static func ensureStarted() {
        if !state.withLock({ $0.started }) { start() }
    }

    /// Whether any libsrt receive thread of this process has died: logged by libsrt, or found by a listener with no
    /// log line. Once true, stays true: such a process must skip `srt_cleanup` and leave through ``exit(_:)``.
    public static var hasSeenReceiveThreadDeath: Bool {
        state.withLock { !$0.deaths.isEmpty || !$0.unloggedDeaths.isEmpty }
    }

    /// How many receive-thread deaths libsrt's log reported (the deaths ``receiveThreadDeaths()`` delivers).
    public static var receiveThreadDeathCount: Int {
        state.withLock { $0.deaths.count }
    }

    /// A stream that yields every receive-thread death from now on, until the subscriber stops iterating.
    ///
    /// Deliveries never block libsrt's thread: the stream buffers the newest 16 events.
    public static func receiveThreadDeaths() -> AsyncStream<ReceiveThreadDeath> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: ReceiveThreadDeath.self, bufferingPolicy: .bufferingNewest(16))
        let id = state.withLock { state in
            defer { state.nextSubscriber += 1 }
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { _ in
            _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Releases libsrt with `srt_cleanup`, unless a receive thread died (then cleanup would spin forever and this
    /// returns `false` without calling it). Call at most once, after every socket is closed; a normal `exit` calls
    /// it too (after the reactor thread stopped), and does nothing more if it already ran.
    @discardableResult
    public static func cleanup() -> Bool {
        guard !hasSeenReceiveThreadDeath else { return false }
        let wasStarted = state.withLock { state in
            defer { state.started = false }
            return state.started
        }
        if wasStarted { srt_cleanup() }
        return true
    }

    /// Ends the process with `status` without hanging: after a receive-thread death it flushes standard output and
    /// error and calls `_exit`, skipping libsrt's static destructor (which would spin forever,
    /// `Docs/libsrt-failure-modes.md` §4); otherwise it calls `exit` as usual, whose `atexit` handler (installed by
    /// ``start(logger:logLevel:logRateLimit:)``) stops the reactor thread and releases libsrt before libsrt's own
    /// static destructors run.
    public static func exit(_ status: Int32) -> Never {
        // Either way, what was printed reaches its pipe or file before anything can go wrong.
        fflush(nil)
        if hasSeenReceiveThreadDeath { _exit(status) }
        #if canImport(Glibc)
            Glibc.exit(status)
        #else
            Darwin.exit(status)
        #endif
    }

    /// The process is exiting (`atexit`): let the control thread finish its queue, stop the reactor thread, then,
    /// unless a receive thread died, release libsrt with `srt_cleanup` while everything it uses still exists.
    ///
    /// Left to libsrt's static destructor, the cleanup races with it: the destructors of libsrt's other globals
    /// ran while its garbage-collector thread still used them, and 9 of 20 healthy exits crashed (SIGSEGV, or
    /// "double free or corruption", in the thread `SRT:GC`). After a death, cleanup would spin forever: the process
    /// should leave through ``exit(_:)``, which skips all of this.
    static func prepareForExit() {
        // Closes still queued run first: none may run while srt_cleanup frees libsrt's state.
        SRTControlThread.shared.quiesceForExit()
        SRTReactor.quiesceForExit()
        cleanup()
    }

    /// Records a death and notifies subscribers; internal so tests of the bridge can drive it. `thread` is the
    /// receive thread that died, when the line was written on it.
    static func recordReceiveThreadDeath(message: String, thread: Int32? = nil) {
        let (death, subscribers) = state.withLock { state in
            let death = ReceiveThreadDeath(sequenceNumber: state.deaths.count + 1, message: message, thread: thread)
            state.deaths.append(death)
            return (death, Array(state.subscribers.values))
        }
        for subscriber in subscribers { subscriber.yield(death) }
    }

    /// Records a death a listener found with no log line (libsrt's log routed elsewhere, or a death it does not
    /// report), unless a death recorded since `since` (when the listener started) already names `thread`, or, with
    /// `thread` unknown, any death was recorded since then. For the process only (``hasSeenReceiveThreadDeath``, so
    /// that it leaves through ``exit(_:)``): never sent to ``receiveThreadDeaths()``'s subscribers, since the
    /// listener that found it knows it is its own, and the others have nothing to check. Only deaths since `since`
    /// count: the kernel reuses thread ids (32,768 of them by default), so an old death may name this thread's id.
    static func recordUnloggedDeath(thread: Int32?, since: ContinuousClock.Instant) {
        state.withLock { state in
            let known = (state.deaths + state.unloggedDeaths).contains { death in
                death.instant >= since && (thread == nil || death.thread == thread)
            }
            guard !known else { return }
            let name = thread.map { "receive thread \($0)" } ?? "a receive thread"
            state.unloggedDeaths.append(
                ReceiveThreadDeath(
                    sequenceNumber: state.unloggedDeaths.count + 1, message: "\(name) found dead with no log line",
                    thread: thread))
        }
    }

    /// How many deaths listeners found with no log line (``recordUnloggedDeath(thread:since:)``; for tests).
    static var unloggedDeathCount: Int {
        state.withLock { $0.unloggedDeaths.count }
    }

    /// Routes one libsrt message; runs on libsrt's threads, sometimes under libsrt's locks, so it only logs and
    /// yields to streams: it never calls back into libsrt.
    ///
    /// Rate-limited by kind (its file and line; see ``SRTLogRateLimit``), except critical messages: a handshake
    /// flood makes libsrt log a line or two per rejected handshake.
    static func handle(level: Int32, area: String, file: String, line: Int, message: String) {
        let now = ContinuousClock.now
        let entry = LibsrtMessage(level: level, area: area, file: file, line: line, text: message)
        let (logger, decision, summaries, armTask) = state.withLock { state in
            let summaries = state.limiter.summaries(now: now)
            let decision: LogRateLimiter<LibsrtMessage>.Decision =
                level <= criticalLevel ? .log : state.limiter.admit("\(file):\(line)", message: entry, now: now)
            let armTask = !state.summaryTaskArmed && state.limiter.nextSummaryDue(now: now) != nil
            if armTask { state.summaryTaskArmed = true }
            return (state.logger, decision, summaries, armTask)
        }
        log(summaries, to: logger)
        if decision == .log { log(entry, to: logger) }
        if armTask { scheduleSummaries() }
        if isReceiveThreadDeath(level: level, message: message) {
            // libsrt logs the death on the dying receive thread itself, which exits right after: it names the victim.
            let thread = csrt_current_thread_is_receive_thread() == 1 ? csrt_thread_id() : nil
            recordReceiveThreadDeath(message: message, thread: thread)
        }
    }

    /// Gives out the summaries that are due, and waits for the next one while messages are being counted: so the
    /// count of a flood that stopped still reaches the log. At most one such task at a time.
    private static func scheduleSummaries() {
        Task.detached {
            // Bounded by the counting: it ends at the first look that finds nothing counted.
            while true {
                // Disarmed under the same lock that finds nothing due: a message counted after it arms a new task.
                let due = state.withLock { state in
                    let due = state.limiter.nextSummaryDue(now: .now)
                    if due == nil { state.summaryTaskArmed = false }
                    return due
                }
                guard let due else { return }
                try? await Task.sleep(until: due, clock: .continuous)
                let (logger, summaries) = state.withLock { ($0.logger, $0.limiter.summaries(now: .now)) }
                log(summaries, to: logger)
            }
        }
    }

    private static func log(_ entry: LibsrtMessage, to logger: Logger) {
        logger.log(
            level: isRoutine(entry.text) ? .debug : swiftLogLevel(for: entry.level), "\(entry.text)",
            metadata: ["srt.area": "\(entry.area)", "srt.file": "\(entry.file)", "srt.line": "\(entry.line)"])
    }

    private static func log(_ summaries: [LogRateLimiter<LibsrtMessage>.Summary], to logger: Logger) {
        for summary in summaries {
            let last = summary.lastMessage
            logger.log(
                level: isRoutine(last.text) ? .debug : swiftLogLevel(for: last.level),
                "\(summary.suppressed) more messages like this in the last \(summary.period): \(last.text)",
                metadata: [
                    "srt.area": "\(last.area)", "srt.file": "\(last.file)", "srt.line": "\(last.line)",
                    "srt.suppressed": "\(summary.suppressed)",
                ])
        }
    }

    /// The marker of a dead receive thread: a critical message from `queue.cpp`, "... INTERRUPTING worker anyway".
    static func isReceiveThreadDeath(level: Int32, message: String) -> Bool {
        level <= criticalLevel && message.contains("INTERRUPTING worker")
    }

    /// libsrt logs these at error level although the adapter produces them on purpose (non-blocking accept, probe
    /// rejections, unsubscribing a closed socket); they are debug messages for the adapter's users.
    static func isRoutine(_ message: String) -> Bool {
        message.contains("no pending connection available at the moment")
            || message.contains("not found as either socket or group")
            || message.contains("which is NOT SUBSCRIBED to")
            || message.contains("rejected by the listen callback") || message.contains("srt-supervisor-probe")
    }

    static func swiftLogLevel(for srtLevel: Int32) -> Logger.Level {
        switch srtLevel {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    }

    static func srtLevel(for level: Logger.Level) -> Int32 {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }
}

/// The C entry point libsrt calls for every message; it cannot capture context, hence the static state.
private let logHandler:
    @convention(c) (
        UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?
    ) -> Void = { _, level, file, line, area, message in
        SRTRuntime.handle(
            level: level,
            area: area.map { String(cString: $0) } ?? "",
            file: file.map { String(cString: $0) } ?? "",
            line: Int(line),
            message: message.map { String(cString: $0) } ?? "")
    }
