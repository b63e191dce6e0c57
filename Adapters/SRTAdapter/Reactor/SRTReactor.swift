import CSRT
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One dedicated thread that waits on `srt_epoll_uwait` for every SRT socket of the process and resumes the Swift
/// tasks waiting for them, so that no blocking libsrt call ever runs on the Swift concurrency pool and a thousand
/// connections need no thread of their own.
///
/// Sockets are registered once (a listener right after `srt_listen`: a connection queued before the subscription
/// raises no event, `epolllate.c`), edge-triggered; an event with no waiter is remembered as a readiness bit, so a
/// readiness that arrives between a would-block result and the next ``wait(for:on:)`` is never lost.
///
/// ```swift
/// let reactor = SRTReactor.shared
/// try reactor.register(socket, for: [.read, .write])
/// while true {
///     let n = srt_recvmsg(socket, buffer, capacity)
///     if n >= 0 { return n }
///     let error = SRTError.last(.receive, socket: socket)
///     guard error.code == .asyncReceive else { throw error }
///     try await reactor.wait(for: .read, on: socket)  // cancellable; resumes on readiness, error or close
/// }
/// ```
///
/// The thread wakes at least every `tick` (100 ms by default) even without events, because closing a listener
/// does not wake `srt_epoll_uwait` (`closewake.c`): on each tick it resumes the waiters of sockets that became
/// broken or closed, and it notices ``stop()``.
///
/// The epoll container costs a file descriptor (libsrt makes a system epoll for it). A reactor created while the
/// process is out of them (or within ``SRTRuntime/reservedDescriptors`` of the limit) makes its container later, at
/// the next registration or tick that can, subscribes every socket registered meanwhile and wakes their waiters
/// once, so that they retry: the events they missed are not lost.
///
/// While events come less than `gathering` (2 ms by default) apart, the thread lets them gather: it sleeps that long
/// between rounds and then collects every socket that became ready meanwhile, so a live stream costs at most one
/// wake-up of this thread and one of the reading task per `gathering`, however many messages arrive in it (at
/// 50 Mbit/s of 1316-byte messages, a message every 210 µs, that is about 10 messages per wake-up instead of 1 to 2;
/// at 500 Mbit/s about 95, which the reading task takes in one read of up to 128). 2 ms, not 1: at 500 Mbit/s a
/// recording relay then costs 0.66 of srt-live-transmit's CPU instead of 0.8 (Docs/benchmarks.md), for a message
/// that reaches its task up to 1 ms later, against the 120 ms of a live stream's usual SRT latency.
/// A readiness waits at most `gathering` longer for its waiter; the first event after a quiet `gathering` is
/// dispatched at once, and a round that finds nothing ends the gathering. Cancellation and ``deregister(_:)``
/// (a close) resume their waiters directly, never through this thread, so they are not delayed.
final class SRTReactor: Sendable {
    /// What a waiter waits for.
    struct Interest: OptionSet, Hashable, Sendable {
        let rawValue: UInt8
        static let read = Interest(rawValue: 1)
        static let write = Interest(rawValue: 2)
        /// Only an error or a close (`SRT_EPOLL_ERR`, or the tick's sweep of broken sockets): never data.
        static let error = Interest(rawValue: 4)
    }

    private struct Waiter {
        let id: UInt64
        let interest: Interest
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Entry {
        /// The libsrt event bits it is subscribed with.
        var events: Int32 = 0
        var ready: Interest = []
        var waiters: [Waiter] = []
        /// How many times a readiness of it was dispatched, swept or replayed: see ``SRTReactor/wait(for:on:after:)``.
        var edges: UInt64 = 0
    }

    private struct State {
        /// The epoll container; -1 until one could be made.
        var eid: Int32 = -1
        var entries: [SRTSOCKET: Entry] = [:]
        var nextWaiterID: UInt64 = 0
        var threadStarted = false
        var stopping = false
        var stopped = false
        /// Stopping because the process exits: waiters stay suspended, libsrt is about to go.
        var exiting = false
    }

    /// The reactors whose thread runs, so that the process's exit can stop them before libsrt's destructor.
    private static let running = Mutex<[ObjectIdentifier: SRTReactor]>([:])

    /// The reactor of the process, started on first use and kept until the process ends.
    static let shared = SRTReactor()

    private let tickMilliseconds: Int64
    private let gathering: Duration
    private let capacity: Int32
    private let threadStarter: ReactorThreadStarter
    private let state = Mutex(State())
    private let roundCount = Atomic<Int>(0)

    /// Creates a reactor with its own epoll container (or, when no descriptor can be spared, one made later); its
    /// thread starts with the first registration.
    ///
    /// - Parameters:
    ///   - tick: the longest the thread waits without an event (it then sweeps closed sockets and checks ``stop()``).
    ///   - gathering: how long the thread lets events gather while they come faster than that; zero dispatches
    ///     every event at once (one wake-up per event).
    ///   - capacity: how many ready sockets one `srt_epoll_uwait` reports; more are collected at once in further
    ///     calls, without gathering.
    ///   - threadStarter: how the thread is made; tests pass one that fails.
    init(
        tick: Duration = .milliseconds(100),
        gathering: Duration = .milliseconds(2),
        capacity: Int = 1024,
        threadStarter: ReactorThreadStarter = .posix
    ) {
        SRTRuntime.ensureStarted()
        self.threadStarter = threadStarter
        self.tickMilliseconds = max(1, tick.wholeMilliseconds)
        self.gathering = max(.zero, gathering)
        self.capacity = Int32(clamping: max(1, capacity))
        state.withLock { $0.eid = Self.makeContainer() }
    }

    /// Subscribes `socket` for the lifetime of the socket; call before anything can happen on it.
    ///
    /// Calls `srt_epoll_add_usock`, which waits on libsrt's global lock: call it where that stalls no task (the
    /// ``SRTControlThread``). The reactor's own lock is never held across a libsrt call, so tasks waiting on other
    /// sockets never queue behind it.
    ///
    /// - Throws: ``SRTError`` with ``SRTError/Code/thread`` when this is the first registration and the reactor's
    ///   thread cannot be made (the process is out of threads); the socket is then not registered, the caller closes
    ///   it, and the next registration tries again. A restart-class error: supervisors back off and retry.
    func register(_ socket: SRTSOCKET, for interest: Interest) throws(SRTError) {
        var events = csrt_epoll_err() | csrt_epoll_et()
        if interest.contains(.read) { events |= csrt_epoll_in() }
        if interest.contains(.write) { events |= csrt_epoll_out() }
        let (eid, woken) = try state.withLock { state throws(SRTError) -> (Int32, [Waiter]) in
            var entry = state.entries[socket] ?? Entry()
            entry.events = events
            state.entries[socket] = entry
            let hadContainer = state.eid >= 0
            // No container yet: making one now subscribes every registered socket, this one included.
            let woken = hadContainer ? [] : Self.adoptContainerIfNeeded(&state)
            if !state.threadStarted && !state.stopping {
                // Under the lock, so that no other registration returns before the thread exists. (No waiter can
                // be among `woken` yet: a waiter needs a registration that succeeded, which needs the thread.)
                let result = startThreadNow()
                guard result == 0 else {
                    state.entries[socket] = nil
                    throw SRTError(
                        code: .thread,
                        systemErrno: result,
                        operation: .reactorThread,
                        message: "cannot start the SRT reactor's thread: \(String(cString: strerror(result)))"
                    )
                }
                state.threadStarted = true
            }
            // A container adopted just now subscribed the socket already.
            return (hadContainer ? state.eid : -1, woken)
        }
        // Outside the lock: the subscription waits on libsrt's global lock, the reactor's lock must not.
        if eid >= 0 { _ = srt_epoll_add_usock(eid, socket, &events) }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// Forgets `socket` and resumes its waiters, who then find it closed (their owner marks it closed first). Makes
    /// no libsrt call, so it never waits on libsrt's lock: `srt_close` takes the socket out of every epoll container
    /// itself, and an event for a forgotten socket is dropped. A socket that stays open but leaves the reactor
    /// (a caller's connect handing it over) is taken out with ``unsubscribe(_:)`` too.
    func deregister(_ socket: SRTSOCKET) {
        let waiters = state.withLock { state -> [Waiter] in
            state.entries.removeValue(forKey: socket)?.waiters ?? []
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// Takes `socket` out of the epoll container (`srt_epoll_remove_usock`, which waits on libsrt's global lock:
    /// call it on the ``SRTControlThread``); ``deregister(_:)`` forgets it here.
    func unsubscribe(_ socket: SRTSOCKET) {
        let eid = state.withLock { $0.eid }
        if eid >= 0 { _ = srt_epoll_remove_usock(eid, socket) }
    }

    /// The number of readiness edges of `socket` so far; pass it to ``wait(for:on:after:)`` taken before the call
    /// that found nothing to do.
    func edges(of socket: SRTSOCKET) -> UInt64 {
        state.withLock { $0.entries[socket]?.edges ?? 0 }
    }

    /// Waits until `socket` is ready for `interest`, has an error, or was closed; the caller then retries its call
    /// and learns which. Throws `CancellationError` as soon as the task is cancelled, and unsubscribes the waiter.
    ///
    /// With several tasks on one socket (accepts on a listener), pass `after`, the ``edges(of:)`` read before the
    /// call that found nothing: libsrt raises one edge for however many callers queue, and it wakes only the tasks
    /// waiting then; a task that looked before that edge but waits only after it returns at once and looks again.
    /// With no edge since `after`, it waits for the next one: what earlier edges left marked ready, the look saw.
    func wait(for interest: Interest, on socket: SRTSOCKET, after seen: UInt64? = nil) async throws {
        let id = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case waiting, ready, cancelled }
                let outcome = state.withLock { state -> Outcome in
                    // onCancel runs after isCancelled is set, so a cancellation is either seen here or finds the
                    // waiter below: no window in between (both sides hold the lock).
                    if Task.isCancelled { return .cancelled }
                    // A socket that was never registered, or deregistered, has nothing to wait for.
                    guard var entry = state.entries[socket], !state.stopped else { return .ready }
                    // An edge since the caller looked: what it found may be stale.
                    if let seen, entry.edges != seen { return .ready }
                    if seen != nil {
                        // No edge since the look: what the bits remember is what the look already found.
                        entry.ready.subtract(interest)
                    } else if !entry.ready.isDisjoint(with: interest) {
                        entry.ready.subtract(interest)
                        state.entries[socket] = entry
                        return .ready
                    }
                    entry.waiters.append(Waiter(id: id, interest: interest, continuation: continuation))
                    state.entries[socket] = entry
                    return .waiting
                }
                switch outcome {
                case .waiting: break
                case .ready: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.entries[socket]?.waiters.firstIndex(where: { $0.id == id }) else {
                    return nil
                }
                return state.entries[socket]?.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// How many times the thread has dispatched ready sockets so far (for tests and metrics).
    var rounds: Int {
        roundCount.load(ordering: .relaxed)
    }

    /// How many tasks wait right now (for tests and metrics).
    var waiterCount: Int {
        state.withLock { $0.entries.values.reduce(0) { $0 + $1.waiters.count } }
    }

    /// How many tasks wait on `socket` right now (for tests: a wait has begun, not merely been asked for).
    func waiterCount(on socket: SRTSOCKET) -> Int {
        state.withLock { $0.entries[socket]?.waiters.count ?? 0 }
    }

    /// Stops the thread within one tick and resumes every waiter; for reactors other than ``shared``.
    func stop() {
        let waiters = state.withLock { state -> [Waiter] in
            state.stopping = true
            if !state.threadStarted { state.stopped = true }
            var all: [Waiter] = []
            for key in state.entries.keys {
                all += state.entries[key]?.waiters ?? []
                state.entries[key]?.waiters = []
            }
            return all
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// Whether the thread has exited after ``stop()``.
    var isStopped: Bool {
        state.withLock { $0.stopped }
    }

    /// Stops every reactor thread and waits (at most 500 ms) until each has left libsrt; waiters are not resumed.
    ///
    /// Runs from the `atexit` handler ``SRTRuntime`` installs, which runs before libsrt's static destructor: a
    /// thread still inside `srt_epoll_uwait` while that destructor frees libsrt's state crashed the process in about
    /// one exit out of three (SIGSEGV, or "double free or corruption" in libsrt's GC thread).
    static func quiesceForExit() {
        let reactors = running.withLock { Array($0.values) }
        for reactor in reactors {
            reactor.state.withLock { state in
                state.stopping = true
                state.exiting = true
            }
        }
        let deadline = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < deadline, reactors.contains(where: { !$0.isStopped }) {
            usleep(1000)
        }
    }

    /// Starts the thread; returns 0, or the errno of a thread that could not be made. Called under `state`'s lock,
    /// which the new thread waits for before it reads anything there.
    private func startThreadNow() -> Int32 {
        Self.running.withLock { $0[ObjectIdentifier(self)] = self }
        // The thread holds the reactor until it exits; detached, nobody joins it.
        let result = threadStarter.start { [self] in loop() }
        if result != 0 { _ = Self.running.withLock { $0.removeValue(forKey: ObjectIdentifier(self)) } }
        return result
    }

    /// A new epoll container, or -1 when the process cannot spare the descriptor (or libsrt cannot make one).
    private static func makeContainer() -> Int32 {
        guard SRTRuntime.hasDescriptorHeadroom else { return -1 }
        let eid = srt_epoll_create()
        guard eid >= 0 else {
            srt_clearlasterror()
            return -1
        }
        // An empty container must time out like any other, not fail with 5014.
        _ = csrt_epoll_enable_empty(eid)
        return eid
    }

    /// Makes the container if there is none yet and subscribes every registered socket to it; returns the waiters
    /// to wake, since events that came before the subscription are never reported (`epolllate.c`).
    private static func adoptContainerIfNeeded(_ state: inout State) -> [Waiter] {
        guard state.eid < 0, !state.stopped else { return [] }
        state.eid = makeContainer()
        guard state.eid >= 0 else { return [] }
        var woken: [Waiter] = []
        for socket in Array(state.entries.keys) {
            guard var entry = state.entries[socket] else { continue }
            var events = entry.events
            _ = srt_epoll_add_usock(state.eid, socket, &events)
            woken += entry.waiters
            entry.waiters = []
            entry.ready = [.read, .write, .error]
            entry.edges &+= 1
            state.entries[socket] = entry
        }
        return woken
    }

    private func loop() {
        csrt_name_current_thread("srt-reactor")
        // The gathering sleep must not end up to 50 µs late (Linux's default slack) on top of `gathering`.
        csrt_set_current_thread_timer_slack(1000)
        let events = UnsafeMutablePointer<SRT_EPOLL_EVENT>.allocate(capacity: Int(capacity))
        defer { events.deallocate() }
        let readBits = csrt_epoll_in() | csrt_epoll_err()
        let writeBits = csrt_epoll_out() | csrt_epoll_err()
        let errorBits = csrt_epoll_err()
        let tick = Duration.milliseconds(tickMilliseconds)
        var lastSweep = ContinuousClock.now
        // When the last round collected its events; a round within `gathering` of it means a busy stream.
        var lastRound = lastSweep - tick
        // Whether events come faster than `gathering`: then each round starts `gathering` after the previous one
        // and takes everything that became ready meanwhile.
        var gatheringEvents = false
        // Whether the last call reported as many sockets as it could hold: more are pending, collect them at once.
        var morePending = false
        while !state.withLock({ $0.stopping }) {
            let (eid, woken) = state.withLock { state in
                let woken = Self.adoptContainerIfNeeded(&state)
                return (state.eid, woken)
            }
            for waiter in woken { waiter.continuation.resume() }
            if gatheringEvents && !morePending {
                let left = gathering - (ContinuousClock.now - lastRound)
                if left > .zero {
                    usleep(UInt32(clamping: left.wholeMicroseconds))
                }
            }
            // Gathering or draining: take what is ready without blocking, so that a quiet round ends the gathering.
            let timeout = gatheringEvents || morePending ? 0 : tickMilliseconds
            // No container yet (out of descriptors): try again next tick; the sweep below still runs.
            let count = eid >= 0 ? srt_epoll_uwait(eid, events, capacity, timeout) : -1
            let now = ContinuousClock.now
            if count > 0 {
                // With more ready sockets than `capacity`, libsrt 1.5.1 returns capacity + 1 (`epoll.cpp`, uwait),
                // having filled only `capacity` entries; the rest stay pending for the next call.
                let filled = Int(min(count, capacity))
                var ready: [(SRTSOCKET, Interest)] = []
                ready.reserveCapacity(filled)
                for index in 0..<filled {
                    var interest: Interest = []
                    if events[index].events & readBits != 0 { interest.insert(.read) }
                    if events[index].events & writeBits != 0 { interest.insert(.write) }
                    if events[index].events & errorBits != 0 { interest.insert(.error) }
                    ready.append((events[index].fd, interest))
                }
                dispatch(ready)
                roundCount.add(1, ordering: .relaxed)
                if !morePending {
                    gatheringEvents = gatheringEvents || now - lastRound < gathering
                    lastRound = now
                }
                morePending = count > capacity
            } else {
                gatheringEvents = false
                morePending = false
                if count < 0 {
                    // No container, or it is gone (libsrt cleaned up at exit): nothing to wait on; idle one tick.
                    srt_clearlasterror()
                    usleep(UInt32(tickMilliseconds * 1000))
                }
            }
            if now - lastSweep >= tick {
                lastSweep = now
                sweep()
            }
        }
        let (waiters, exiting, eid) = state.withLock { state -> ([Waiter], Bool, Int32) in
            state.stopped = true
            let all = state.entries.values.flatMap(\.waiters)
            state.entries.removeAll()
            return (all, state.exiting, state.eid)
        }
        _ = Self.running.withLock { $0.removeValue(forKey: ObjectIdentifier(self)) }
        // At exit, resumed waiters would call into libsrt while its destructor runs: leave them suspended.
        if exiting { return }
        for waiter in waiters { waiter.continuation.resume() }
        if eid >= 0 { srt_epoll_release(eid) }
    }

    /// Resumes the waiters that `ready` satisfies; remembers the rest as readiness bits.
    private func dispatch(_ ready: [(SRTSOCKET, Interest)]) {
        var resumed: [Waiter] = []
        state.withLock { state in
            for (socket, interest) in ready {
                guard var entry = state.entries[socket] else { continue }
                var remaining: [Waiter] = []
                for waiter in entry.waiters {
                    if waiter.interest.isDisjoint(with: interest) {
                        remaining.append(waiter)
                    } else {
                        resumed.append(waiter)
                    }
                }
                // Edge-triggered: a readiness nobody waited for would never be reported again.
                let claimed = entry.waiters.reduce(into: Interest()) { bits, waiter in
                    if !waiter.interest.isDisjoint(with: interest) { bits.formUnion(waiter.interest) }
                }
                entry.ready.formUnion(interest.subtracting(claimed))
                entry.edges &+= 1
                entry.waiters = remaining
                state.entries[socket] = entry
            }
        }
        for waiter in resumed { waiter.continuation.resume() }
    }

    /// Resumes the waiters of sockets that broke or closed without an event (a closed listener raises none).
    ///
    /// The states are read outside the reactor's lock: `srt_getsockstate` waits on libsrt's global lock, and a task
    /// that waits on any socket takes the reactor's lock.
    private func sweep() {
        let watched = state.withLock { state in
            state.entries.compactMap { socket, entry in entry.waiters.isEmpty ? nil : socket }
        }
        let gone = watched.filter { SRTSocketState(srt_getsockstate($0)).isClosedOrBroken }
        guard !gone.isEmpty else { return }
        var resumed: [Waiter] = []
        state.withLock { state in
            for socket in gone {
                guard let waiters = state.entries[socket]?.waiters else { continue }
                resumed += waiters
                state.entries[socket]?.waiters = []
                state.entries[socket]?.ready = [.read, .write, .error]
                state.entries[socket]?.edges &+= 1
            }
        }
        for waiter in resumed { waiter.continuation.resume() }
    }
}
