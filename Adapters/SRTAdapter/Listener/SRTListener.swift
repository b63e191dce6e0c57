import CSRT
public import Logging
public import Supervisor
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An SRT listener as a `Restartable`: a `ResourceSupervisor` keeps it accepting through receive-thread deaths,
/// start failures and restarts. ``SRTServer`` wraps one; use this type directly to put it in your own supervisor.
///
/// ```swift
/// let listener = SRTListener(
///     configuration: try SRTListenerConfiguration(host: "0.0.0.0", port: 9000),
///     onConnection: { connection in Task { await handle(connection) } },
///     onConnectionsLost: { lost in logger.warning("\(lost.count) connections died with their UDP socket") })
/// let supervisor = ResourceSupervisor(listener, name: "srt-ingest")
/// try await supervisor.run()
/// ```
///
/// - `start()` binds a fresh UDP socket (``SRTListenSocket/open(_:)``); the port the kernel chose for port 0 is
///   kept for every restart. When the port is still held by the live connections of the previous listener
///   (a restart for any reason but a death), it joins their multiplexer instead, so they keep flowing.
/// - `run(_:)` accepts and hands each connection to `onConnection`; it throws
///   ``SRTError/Code/receiveThreadDied`` when a death signal names its receive thread (or that thread is gone),
///   or, while the thread is not known, when the death signal's probe or enough periodic probes find the listener
///   deaf and its address still present. A vanished address is waited out: no restart (§5).
/// - `stop(_:)` retires a dead listener (its connections are deaf too: closed and passed to
///   `onConnectionsLost`, the UDP descriptor replaced by /dev/null) and merely closes a live one (its connections
///   go on).
public struct SRTListener: Restartable {
    public typealias Instance = SRTListenSocket

    /// What every start binds.
    public let configuration: SRTListenerConfiguration
    /// When to suspect and confirm a death.
    public let health: SRTHealthCheck
    private let shared: Shared
    private let logger: Logger

    /// The mutable part, shared by copies of the struct: the port in use and the instance that runs now.
    final class Shared: Sendable {
        struct State {
            var port: Int?
            var current: SRTListenSocket?
            var previous: SRTListenSocket?
            /// Ends the current run with ``SRTError/Code/restartRequested`` when yielded to; made when `start` returns,
            /// so that a request between the supervisor's `ready` and the run's beginning ends that run at once.
            var restartRequests: AsyncStream<Void>.Continuation?
            /// The stream of `restartRequests`, for the run after the start that made it.
            var nextRunRequests: AsyncStream<Void>?
            /// The current run ended on a restart request: `stop` keeps the listener listening instead of closing it.
            var restartRequested = false
            /// The listener a restart request kept listening; the next `start` returns it.
            var kept: SRTListenSocket?
            /// Counts the keeps, so that the limit of one keep never closes the listener a later keep holds.
            var keeps = 0

            /// Opens the requests for the next run (a started listener takes them from `start`'s return on).
            @discardableResult
            mutating func takeRestartRequests() -> AsyncStream<Void> {
                restartRequests?.finish()
                let (requests, sink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
                (restartRequests, nextRunRequests) = (sink, requests)
                return requests
            }

            /// Closes them: from now until the next start, ``SRTListener/restart()`` does nothing.
            mutating func endRestartRequests() {
                restartRequests?.finish()
                (restartRequests, nextRunRequests) = (nil, nil)
            }
        }

        let state = Mutex(State())
        /// Death signals after which this listener's check found it alive, across restarts (tests wait for it).
        let deathsSurvived = Atomic<Int>(0)
        /// Quick checks, and those whose datagram stayed unread (a probe decided), across restarts (for tests).
        let quickChecks = Atomic<Int>(0)
        let quickChecksUnsure = Atomic<Int>(0)
        let onConnection: @Sendable (SRTConnection) -> Void
        let onConnectionsLost: @Sendable ([SRTConnection]) -> Void
        let reactor: SRTReactor

        init(
            onConnection: @escaping @Sendable (SRTConnection) -> Void,
            onConnectionsLost: @escaping @Sendable ([SRTConnection]) -> Void,
            reactor: SRTReactor
        ) {
            self.onConnection = onConnection
            self.onConnectionsLost = onConnectionsLost
            self.reactor = reactor
        }
    }

    /// Creates the resource; nothing binds until the supervisor calls `start()`.
    ///
    /// - Parameters:
    ///   - configuration: where to listen and how; validated already.
    ///   - health: how often and how patiently the listener probes itself.
    ///   - logger: where the listener's own lines go.
    ///   - onConnection: receives every accepted connection; called from the accept loop, so it must not block.
    ///   - onConnectionsLost: receives the connections closed because their UDP socket died with the listener.
    public init(
        configuration: SRTListenerConfiguration,
        health: SRTHealthCheck = .standard,
        logger: Logger = Logger(label: "srt.listener"),
        onConnection: @escaping @Sendable (SRTConnection) -> Void,
        onConnectionsLost: @escaping @Sendable ([SRTConnection]) -> Void = { _ in }
    ) {
        self.init(
            configuration: configuration, health: health, logger: logger, reactor: .shared,
            onConnection: onConnection, onConnectionsLost: onConnectionsLost)
    }

    init(
        configuration: SRTListenerConfiguration,
        health: SRTHealthCheck,
        logger: Logger,
        reactor: SRTReactor,
        onConnection: @escaping @Sendable (SRTConnection) -> Void,
        onConnectionsLost: @escaping @Sendable ([SRTConnection]) -> Void
    ) {
        self.configuration = configuration
        self.health = health
        var logger = logger
        logger[metadataKey: "srt.listener"] = "\(configuration.address)"
        self.logger = logger
        self.shared = Shared(onConnection: onConnection, onConnectionsLost: onConnectionsLost, reactor: reactor)
    }

    /// Where the listener listens now (with the port the kernel chose), or `nil` before the first start.
    public var localAddress: SRTAddress? {
        shared.state.withLock { state in state.port.map { configuration.address.with(port: $0) } }
    }

    /// How many death signals this listener's check has found it alive after, across restarts (for tests).
    var deathsSurvived: Int {
        shared.deathsSurvived.load(ordering: .relaxed)
    }

    /// How many quick checks ran, and how many of them left the decision to a probe, across restarts (for tests).
    var quickCheckCounts: (all: Int, unsure: Int) {
        (shared.quickChecks.load(ordering: .relaxed), shared.quickChecksUnsure.load(ordering: .relaxed))
    }

    /// The instance that runs now, if any (tests inject faults into it).
    var current: SRTListenSocket? {
        shared.state.withLock { $0.current }
    }

    public func start() async throws -> SRTListenSocket {
        let kept = shared.state.withLock { state in
            defer { state.kept = nil }
            return state.kept
        }
        if let kept {
            shared.state.withLock { state in
                state.current = kept
                // Under the lock the keep's limit decides under: a start that takes the listener admits callers again.
                kept.refusesCallers = false
                state.takeRestartRequests()
            }
            logger.info("listening on \(kept.localAddress) (kept through the restart)")
            return kept
        }
        let (port, previous) = shared.state.withLock { ($0.port, $0.previous) }
        let wanted = port.map { configuration.with(port: $0) } ?? configuration
        let listener = try await open(wanted, previous: previous)
        shared.state.withLock { state in
            state.port = listener.localAddress.port
            state.current = listener
            state.takeRestartRequests()
        }
        logger.info("listening on \(listener.localAddress)")
        return listener
    }

    /// A fresh listener; or, when the previous listener's live connections still hold the port, one that joins
    /// their multiplexer.
    ///
    /// Both run on the adapter's control thread: every libsrt call of an open waits on libsrt's global lock.
    private func open(_ wanted: SRTListenerConfiguration, previous: SRTListenSocket?) async throws(SRTError)
        -> SRTListenSocket
    {
        let reactor = shared.reactor
        let error: SRTError
        do {
            return try await SRTListenSocket.openOnControlThread(wanted, reactor: reactor)
        } catch let failure {
            error = failure
        }
        guard error.code == .socketFailure, error.systemErrno == EADDRINUSE, let previous, !previous.isDead,
            !previous.openConnections.isEmpty
        else { throw error }
        logger.info("re-listening on the live UDP socket of \(previous.openConnections.count) connections")
        return try await SRTControlThread.shared.run { () throws(SRTError) in
            try SRTListenSocket.reopen(sharingWith: previous, reactor: reactor)
        }
    }

    /// Restarts the run on purpose (an operator's request, a group restarting its members): the current run ends
    /// with ``SRTError/Code/restartRequested``, the supervisor restarts as after any failure (events, logs, metrics,
    /// backoff), and `stop` keeps the listener listening for the next `start`. The port is never without a listener
    /// and no caller is turned away: libsrt completes the handshakes that arrive meanwhile and queues them for the
    /// next run's accept; live connections keep flowing. A listener found dead, or whose receive thread is gone, is
    /// retired instead and the next `start` binds afresh; a listener no `start` takes within a second refuses callers
    /// (1503) until one does, or is retired when its receive thread died meanwhile; ``SRTServer`` closes one left when
    /// its run ends. Taken from the moment `start` returns (the supervisor's `ready`): a request made before the run
    /// begins ends it as soon as it begins. Does nothing while no listener is started (a backoff, a stop).
    ///
    /// Why the listener is kept rather than replaced: libsrt answers every handshake that reaches a listener's
    /// callback, so a caller whose handshake meets the old listener between its last accept and its close is either
    /// rejected or queued where no accept reaches; and a fresh bind fails for the seconds libsrt holds a closed
    /// listener's port (Docs/srt-fault-model.md).
    public func restart() {
        let requests = shared.state.withLock { $0.restartRequests }
        requests?.yield()
    }

    /// How long a listener kept for the next `start` after a restart request connects callers; after that it turns
    /// them away as unavailable (1503) until a `start` takes it, and keeps the port for that start. A restart on
    /// request starts again at once (``SRTError/Code/restartRequested`` is `.restartNow`); only a supervisor that ends,
    /// or waits (a degraded probe interval, a minimum restart delay or a budget's wait past this), comes later.
    /// ``SRTServer`` closes a listener left kept when its run ends; in a supervisor of your own that ended, it goes
    /// with the last copy of this value.
    static let keptListenerLimit = Duration.seconds(1)

    /// The most connections one trip to the control thread accepts: a burst of callers needs few trips, and a trip
    /// holds the control thread (one `srt_accept` and one adoption each) for a bounded time.
    static let acceptBatch = 32

    /// Whether ``restart()`` acts now: from a start's return to its run's end.
    var takesRestartRequests: Bool {
        shared.state.withLock { $0.restartRequests != nil }
    }

    public func run(_ listener: SRTListenSocket) async throws {
        // Subscribed before anything else: a death from now on is seen.
        let deaths = SRTRuntime.receiveThreadDeaths()
        // A listener kept through a restart, or one that joined a predecessor's multiplexer, may have lost its
        // receive thread before this subscription: that death signalled no one.
        if listener.receiveThreadIsGone == true {
            listener.markDead()
            throw deadError(listener)
        }
        // An immediate access control answers on the receive thread at once: no deadline for a probe to wait behind.
        let access = configuration.accessControl
        let timeouts = health.timeouts(behind: access?.runsOnReceiveThread == true ? nil : access?.deadline)
        if timeouts.death != health.deathProbeTimeout || timeouts.probe != health.probeTimeout {
            logger.info(
                "probe timeouts lengthened past the access control's deadline",
                metadata: ["srt.probe-timeout": "\(timeouts.probe)", "srt.death-probe-timeout": "\(timeouts.death)"])
        }
        // The requests since this run's start returned (a run without a start of this value takes them from now).
        let requests = shared.state.withLock { state in
            defer { state.nextRunRequests = nil }
            return state.nextRunRequests ?? state.takeRestartRequests()
        }
        defer { shared.state.withLock { $0.endRestartRequests() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in requests {
                    // Before the run ends: `stop` must know to hand the port over rather than close it.
                    shared.state.withLock { $0.restartRequested = true }
                    throw SRTError(
                        code: .restartRequested, operation: .listen,
                        message: "re-listening on \(listener.localAddress) on request")
                }
                // Finished without a request: the run is ending anyway.
                try await Task.sleep(for: .seconds(365 * 86_400))
            }
            group.addTask {
                var quietSince: UInt64?
                while true {
                    // A burst of callers costs one trip to the control thread per batch, not per connection.
                    let batch = try await listener.acceptPending(limit: Self.acceptBatch, quietSince: &quietSince)
                    for connection in batch { shared.onConnection(connection) }
                }
            }
            group.addTask {
                for await death in deaths {
                    let metadata: Logger.Metadata = ["srt.death": "\(death.sequenceNumber)"]
                    // The receive thread known: the death names its thread, and a live one is still listed.
                    if let dead = listener.isDead(after: death) {
                        if dead {
                            logger.warning("a receive thread died: this listener's", metadata: metadata)
                            listener.markDead()
                            throw deadError(listener)
                        }
                        logger.info("a receive thread died: another one; this listener's runs", metadata: metadata)
                        shared.deathsSurvived.add(1, ordering: .relaxed)
                        continue
                    }
                    logger.warning("a receive thread died; probing", metadata: metadata)
                    // A death signal is strong evidence and recovery is timed: a short watch (5 ms by default).
                    let window = health.deathProbeTimeout / 20
                    if try await confirmDeath(listener, timeout: timeouts.death, attempts: 1, window: window) {
                        throw deadError(listener)
                    }
                    shared.deathsSurvived.add(1, ordering: .relaxed)
                }
            }
            // The quick check: the watch looks at the receive thread every quickCheckInterval and ticks only when it
            // is gone (dead: no log line came, or it would have ended the run already) or not known (the datagram).
            let (watchKey, ticks) = LivenessWatch.shared.watch(listener, every: health.quickCheckInterval)
            defer { LivenessWatch.shared.end(watchKey) }
            group.addTask {
                for await tick in ticks {
                    // The check looks at the thread again first: gone is dead at once, with no datagram.
                    let liveness = try await listener.quickCheck(window: SRTHealthCheck.quickCheckWindow)
                    if tick == .threadUnknown { shared.quickChecks.add(1, ordering: .relaxed) }
                    switch liveness {
                    case .alive, .unchecked: continue
                    case .dead:
                        logger.warning("the receive thread is gone: this listener is deaf")
                        listener.markDead()
                        throw deadError(listener)
                    case .unsure:
                        // The thread unknown and the datagram unread: dead, or starved; the death probe decides, as
                        // after a death line, with a longer watch after it. Weaker evidence than a line, but such a
                        // listener has had no handshake yet (a caller's teaches it its thread), so no connection to
                        // lose: a wrong verdict costs a rebind.
                        logger.info("the quick check's datagram is unread; probing")
                        shared.quickChecksUnsure.add(1, ordering: .relaxed)
                        let window = max(timeouts.probe / 5, SRTHealthCheck.quickCheckWindow)
                        if try await confirmDeath(listener, timeout: timeouts.death, attempts: 1, window: window) {
                            throw deadError(listener)
                        }
                    }
                }
                // Ended by the run's end: wait for the cancellation that comes with it.
                try await Task.sleep(for: .seconds(365 * 86_400))
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: health.probeInterval)
                    let attempts = health.failedProbesBeforeDead
                    // No signal: only the probe says so, so the socket is watched for as long as a probe waits.
                    if try await confirmDeath(
                        listener, timeout: timeouts.probe, attempts: attempts, window: timeouts.probe)
                    {
                        throw deadError(listener)
                    }
                }
            }
            // The first child to end (with an error: they never return) ends the run.
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// A graceful shutdown closes the listener, which ends its run (the accepts fail): the supervisor then needs
    /// no child task of its own to cancel the run.
    public var endsRunOnRequest: Bool { true }

    /// Closes `listener`: the run's accepts fail and the run ends; its connections go on, and `stop(_:)` follows.
    public func endRun(_ listener: SRTListenSocket) {
        listener.close()
    }

    public func stop(_ listener: SRTListenSocket) async {
        let restartRequested = shared.state.withLock { state in
            // A start whose run never began (a shutdown came first) leaves its requests to no one.
            state.endRestartRequests()
            if state.current === listener { state.current = nil }
            state.previous = listener
            defer { state.restartRequested = false }
            return state.restartRequested
        }
        // A restart on request keeps a live listener: its receive thread still runs, so nothing it holds is deaf.
        // Not one a graceful shutdown closed meanwhile (`endRun`): there is nothing left to keep.
        if restartRequested, !listener.isDead, !listener.isClosedLocally, listener.receiveThreadIsGone != true {
            let keep = shared.state.withLock { state in
                state.kept = listener
                state.keeps &+= 1
                return state.keeps
            }
            logger.info("keeping \(listener.localAddress) listening through the restart")
            // Bounded: a supervisor that ends, or waits long, before its next start must not leave a listener that
            // connects callers nobody accepts. Closing it instead would cost a supervisor that only waits (a degraded
            // probe interval, a long minimum restart delay, a budget) seconds of EADDRINUSE at its next start.
            let (resource, limit) = (self, Self.keptListenerLimit)
            Task {
                try? await Task.sleep(for: limit)
                let dead = resource.shared.state.withLock { state -> Bool? in
                    guard state.kept === listener, state.keeps == keep else { return nil }
                    guard listener.receiveThreadIsGone != true else {
                        state.kept = nil
                        return true
                    }
                    // Under the lock a start takes the listener under: never set after that start admitted callers.
                    listener.refusesCallers = true
                    return false
                }
                guard let dead else { return }
                if dead {
                    resource.logger.info("\(listener.localAddress), kept through the restart, died: retiring it")
                    await resource.release(listener)
                } else {
                    resource.logger.info(
                        "no start took \(listener.localAddress) within \(limit) of the restart: refusing callers")
                }
            }
            return
        }
        await release(listener)
    }

    /// Releases a listener no run will take: retired with every connection on its UDP socket when its receive thread
    /// is gone, merely closed otherwise (its connections go on).
    ///
    /// Also for a kept listener whose thread died while no run watched it: closed only, its deaf connections would stay
    /// open unreported, and after a fault that leaves the UDP socket bound the dead multiplexer would keep the port.
    private func release(_ listener: SRTListenSocket) async {
        // A death nobody noticed yet (the run ended on the request first, or none ran since): retired like any other.
        // Not after a close of ours (`endRun`): libsrt then ends the receive thread itself, a few seconds later.
        if !listener.isClosedLocally, listener.receiveThreadIsGone == true { listener.markDead() }
        if listener.isDead {
            let lost = await listener.retire()
            logger.error(
                "retired a deaf listener and closed its \(lost.count) connections",
                metadata: ["srt.lost": "\(lost.map(\.description))"])
            shared.onConnectionsLost(lost)
        } else {
            listener.close()
        }
    }

    /// Releases a listener a restart request kept but no `start` took (the supervisor ended between the two): closed,
    /// or retired when its receive thread died meanwhile.
    func closeKeptListener() async {
        let kept = shared.state.withLock { state in
            defer { state.kept = nil }
            return state.kept
        }
        if let kept { await release(kept) }
    }

    /// Probes up to `attempts` times; dead only if every probe fails, the address is still on an interface, and
    /// nothing shows the receive thread reading over `window` (`SRTListenSocket.isBeingRead(over:)`).
    private func confirmDeath(
        _ listener: SRTListenSocket, timeout: Duration, attempts: Int, window: Duration
    ) async throws -> Bool {
        for _ in 0..<attempts {
            let result = await listener.probe(timeout: timeout)
            try Task.checkCancellation()
            if result.isAlive { return false }
            if result.isInconclusive {
                // Out of descriptors: no probe, so the UDP socket is the only witness.
                logger.warning("self-probe impossible (\(result)); watching the UDP socket instead")
                break
            }
            logger.warning("self-probe failed: \(result)")
        }
        guard listener.addressIsLocal else {
            logger.warning("address \(listener.localAddress.host) is on no interface: waiting for it, no restart")
            return false
        }
        // An unanswered probe on a starved machine is not a death (one was measured answering after 1.4 s):
        // retiring a live listener would cost every connection on it.
        if try await listener.isBeingRead(over: window) {
            logger.warning("self-probe unanswered, but the UDP socket is being read: slow, not dead; no restart")
            return false
        }
        listener.markDead()
        return true
    }

    private func deadError(_ listener: SRTListenSocket) -> SRTError {
        SRTError(
            code: .receiveThreadDied, operation: .probe,
            message: "the receive thread of \(listener.localAddress) died: the listener is deaf")
    }
}
