import CSRT
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libsrt listener on a UDP socket the adapter owns, with the primitives a supervised listener needs:
/// accept, self-probe, close, and retire-after-death.
///
/// ```swift
/// let listener = try SRTListenSocket.open(try SRTListenerConfiguration(host: "127.0.0.1", port: 0))
/// print(listener.localAddress)                 // 127.0.0.1:41234
/// let connection = try await listener.accept()  // cancellable
///
/// // After SRTRuntime.receiveThreadDeaths() fired:
/// if await !listener.probe().isAlive {
///     let dead = await listener.retire()     // closes it and its connections, dup2 /dev/null over its UDP fd
///     let fresh = try SRTListenSocket.open(
///         try SRTListenerConfiguration(host: listener.localAddress.host, port: listener.localAddress.port))
/// }
/// ```
///
/// The UDP socket is created here and handed to libsrt with `srt_bind_acquire`, so that a dead one can be replaced
/// by /dev/null (never closed: libsrt may close that number later) and the port bound again at once, on a fresh
/// multiplexer (`Docs/libsrt-failure-modes.md §3`). The listener is subscribed to the reactor right after `srt_listen`.
public final class SRTListenSocket: Sendable, CustomStringConvertible {
    /// The reject code a live listener answers its own probe with (application range, never sent otherwise).
    public static let probeRejectReason: Int32 = SRTRejectReason.probe.code

    /// What it was opened with.
    public let configuration: SRTListenerConfiguration
    /// Where it listens, with the port the kernel chose when the configuration said 0.
    public let localAddress: SRTAddress
    /// The stream id this listener rejects with ``probeRejectReason``.
    public let probeStreamID: String
    /// When it started listening (tests time restarts by it, where they happen).
    let listeningSince = ContinuousClock.now

    let socket: SRTSOCKET
    /// The UDP socket handed to libsrt; touched again only to retire it after a receive-thread death.
    let udpDescriptor: Int32
    /// The device and inode `udpDescriptor` named when the listener opened (`nil` if they could not be read): a
    /// retire puts /dev/null only over that socket, never over a file the number was reused for since.
    private let udpIdentity: (device: UInt64, inode: UInt64)?
    let context: ListenerContext
    private let registryKey: Int
    private let reactor: SRTReactor
    private let closed = Atomic<Bool>(false)
    private let retired = Atomic<Bool>(false)
    /// Trips to the control thread that looked for pending callers (for tests).
    let acceptLooks = Atomic<Int>(0)
    private let dead = Atomic<Bool>(false)
    /// Closed listeners whose still-open connections share this listener's UDP socket (after ``reopen``): when
    /// the socket dies, their connections die too and are retired with this one.
    private let predecessors = Mutex<[SRTListenSocket]>([])

    private init(
        configuration: SRTListenerConfiguration, localAddress: SRTAddress, probeStreamID: String,
        socket: SRTSOCKET, udpDescriptor: Int32, context: ListenerContext, registryKey: Int, reactor: SRTReactor
    ) {
        self.configuration = configuration
        self.localAddress = localAddress
        self.probeStreamID = probeStreamID
        self.socket = socket
        self.udpDescriptor = udpDescriptor
        udpIdentity = POSIX.fileIdentity(of: udpDescriptor)
        self.context = context
        self.registryKey = registryKey
        self.reactor = reactor
    }

    deinit {
        close()
    }

    /// Binds a fresh UDP socket, hands it to libsrt, listens, and subscribes to the reactor.
    ///
    /// - Throws: ``SRTError``: 1003 with the errno of the UDP bind (EADDRINUSE, EADDRNOTAVAIL, ...), or the
    ///   libsrt error of `srt_bind_acquire`/`srt_listen` (5011, 5015, ...). Classify with
    ///   ``SRTError/failureDecision``.
    public static func open(_ configuration: SRTListenerConfiguration) throws(SRTError) -> SRTListenSocket {
        try open(configuration, reactor: .shared)
    }

    /// ``open(_:)`` on the adapter's control thread: every call it makes waits on libsrt's global lock, so from async
    /// code the task waits instead of a thread of the cooperative pool.
    static func openOnControlThread(
        _ configuration: SRTListenerConfiguration, reactor: SRTReactor
    ) async throws(SRTError) -> SRTListenSocket {
        try await SRTControlThread.shared.run { () throws(SRTError) in try open(configuration, reactor: reactor) }
    }

    static func open(
        _ configuration: SRTListenerConfiguration, reactor: SRTReactor
    ) throws(SRTError) -> SRTListenSocket {
        SRTRuntime.ensureStarted()
        let address = configuration.address
        var bindErrno: Int32 = 0
        let descriptor = address.withSocketAddress { csrt_udp_bind($0, $1, &bindErrno) }
        guard descriptor >= 0 else {
            // The same code libsrt reports when its own bind fails, so one classification table covers both.
            throw SRTError(
                code: .socketFailure, systemErrno: bindErrno, operation: .udpBind,
                message: "cannot bind a UDP socket to \(address)")
        }
        let localAddress = address.with(port: Int(csrt_local_port(descriptor)))
        return try make(
            configuration, localAddress: localAddress, descriptor: descriptor, shared: nil, reactor: reactor)
    }

    /// Opens a listener on the live UDP socket of `previous`, which was closed while its connections live: the
    /// kernel port is still theirs, so a fresh bind would fail with EADDRINUSE; `srt_bind` joins the same
    /// multiplexer instead (same settings), and old connections keep flowing (`Docs/libsrt-failure-modes.md §5`).
    ///
    /// Never after a death: that would reattach to the dead multiplexer (§2); retire and ``open(_:)`` instead.
    static func reopen(sharingWith previous: SRTListenSocket, reactor: SRTReactor) throws(SRTError) -> SRTListenSocket {
        precondition(!previous.isDead, "a dead listener is retired, never shared")
        return try make(
            previous.configuration, localAddress: previous.localAddress, descriptor: previous.udpDescriptor,
            shared: previous, reactor: reactor)
    }

    /// The open connections on this listener's UDP socket: its own, and those of the closed listeners it took the
    /// socket over from.
    public var connectionsOnSocket: [SRTConnection] {
        openConnections + predecessors.withLock { $0 }.flatMap(\.openConnections)
    }

    /// Makes the listener on `descriptor`; `shared` is the listener whose live multiplexer it joins, if any.
    ///
    private static func make(
        _ configuration: SRTListenerConfiguration, localAddress: SRTAddress, descriptor: Int32,
        shared previous: SRTListenSocket?, reactor: SRTReactor
    ) throws(SRTError) -> SRTListenSocket {
        var chain: [SRTListenSocket] = []
        let shared = previous != nil
        // Joining a multiplexer starts no thread: its receive thread is the previous listener's.
        var receiveThread = previous?.receiveThread
        let probeStreamID = "#!::srt-supervisor-probe=\(UInt64.random(in: .min ... .max))"
        let context: ListenerContext
        do throws(SRTError) {
            context = try ListenerContext(
                probeStreamID: probeStreamID, maxConnections: configuration.maxConnections,
                maxPendingPerAddress: configuration.maxPendingPerAddress, accessControl: configuration.accessControl,
                logger: ListenerRegistry.logger)
        } catch {
            if !shared { POSIX.closeDescriptor(descriptor) }
            throw error
        }
        let socket = srt_create_socket()
        guard socket != SRT_INVALID_SOCK else {
            let error = SRTError.last(.createSocket)
            context.close()
            if !shared { POSIX.closeDescriptor(descriptor) }
            throw error
        }
        let key = ListenerRegistry.add(context)
        var acquired = false
        do throws(SRTError) {
            let options = SRTSocketOptions(socket: socket)
            try options.setCommon(
                latency: configuration.latency, payloadSize: configuration.payloadSize,
                passphrase: configuration.passphrase, keyLength: configuration.keyLength,
                enforcedEncryption: configuration.enforcedEncryption)
            // Non-blocking accept: 6002 means "nothing pending", and the reactor says when to try again. Accepted
            // sockets inherit both flags, so a connection starts non-blocking without a call of its own.
            try options.setNonBlocking()
            if srt_listen_callback(socket, listenCallback, UnsafeMutableRawPointer(bitPattern: key)) == SRT_ERROR {
                throw SRTError.last(.listenCallback, socket: socket)
            }
            if shared {
                if localAddress.withSocketAddress({ srt_bind(socket, $0, $1) }) == SRT_ERROR {
                    throw SRTError.last(.bind, socket: socket)
                }
            } else {
                // The multiplexer's receive thread starts inside srt_bind_acquire, named at once.
                let before = ReceiveThreads.snapshot()
                if srt_bind_acquire(socket, descriptor) == SRT_ERROR {
                    throw SRTError.last(.bindAcquire, socket: socket)
                }
                receiveThread = ReceiveThreads.started(since: before)
            }
            // Before srt_listen, so before any handshake: those tell the thread for certain.
            context.receiveThread.store(receiveThread ?? 0, ordering: .relaxed)
            // From here the descriptor belongs to libsrt's multiplexer.
            acquired = true
            if let previous {
                // The closed listeners whose connections share the socket: only the ones that still hold connections
                // matter, so the chain stays as short as the live connections.
                chain = ([previous] + previous.predecessors.withLock { $0 }).filter { !$0.openConnections.isEmpty }
                // Before srt_listen, so before any handshake: the cap counts their connections too.
                context.predecessors.withLock { $0 = chain.map(\.context) }
            }
            if srt_listen(socket, Int32(configuration.backlog)) == SRT_ERROR {
                throw SRTError.last(.listen, socket: socket)
            }
        } catch {
            ListenerRegistry.remove(key)
            srt_close(socket)
            // Once acquired, the descriptor belongs to libsrt's multiplexer, which closes it.
            if !acquired && !shared { POSIX.closeDescriptor(descriptor) }
            throw error
        }
        // Right after srt_listen: a connection queued before the subscription would raise no event.
        do {
            try reactor.register(socket, for: .read)
        } catch {
            ListenerRegistry.remove(key)
            srt_close(socket)  // the descriptor belongs to libsrt's multiplexer now, which closes it
            throw error
        }
        let listener = SRTListenSocket(
            configuration: configuration, localAddress: localAddress, probeStreamID: probeStreamID, socket: socket,
            udpDescriptor: descriptor, context: context, registryKey: key, reactor: reactor)
        listener.predecessors.withLock { $0 = chain }
        return listener
    }

    /// Waits (cancellably) for the next caller that passed the access control. Several tasks may wait here at once;
    /// each connection goes to one of them.
    ///
    /// - Throws: ``SRTError`` with ``SRTError/Code/closedLocally`` once ``close()`` was called (a `stop`
    ///   decision), another ``SRTError`` if libsrt fails, or `CancellationError`.
    public func accept() async throws -> SRTConnection {
        var quietSince: UInt64?
        return try await acceptPending(limit: 1, quietSince: &quietSince)[0]
    }

    /// Waits (cancellably) for callers, then takes every one pending, at most `limit`, in one trip to the control
    /// thread: under a burst of callers, one hop per batch rather than per connection. Never returns empty.
    ///
    /// `quietSince` carries, from one call to the next of the same loop, the reactor's edge count read before a
    /// look that left nothing pending: the next call then waits for a newer edge rather than looking again at once.
    /// Start with `nil`.
    func acceptPending(limit: Int, quietSince: inout UInt64?) async throws -> [SRTConnection] {
        let limit = max(1, limit)
        while true {
            try checkOpen()
            try Task.checkCancellation()
            if let quiet = quietSince {
                // The last look found the queue empty: anything queued since raised an edge after `quiet`.
                try await reactor.wait(for: .read, on: socket, after: quiet)
                quietSince = nil
                try checkOpen()
            }
            // Before looking: an edge after this means callers this look may have missed (several tasks accept).
            let seen = reactor.edges(of: socket)
            // srt_accept and the adoption of what it returns wait on libsrt's global lock: on the control thread.
            acceptLooks.add(1, ordering: .relaxed)
            let (taken, drained) = try await SRTControlThread.shared.run { () throws(SRTError) in
                try self.acceptAvailable(limit: limit)
            }
            if drained { quietSince = seen }
            if !taken.isEmpty { return taken }
        }
    }

    /// Non-blocking accepts until nothing is pending or `limit` connections were taken; on the control thread.
    /// `drained`: the last look found nothing pending. A failure after some connections were taken returns those
    /// (the next look meets it again): a connection libsrt handed over is never dropped here.
    private func acceptAvailable(limit: Int) throws(SRTError) -> (taken: [SRTConnection], drained: Bool) {
        var taken: [SRTConnection] = []
        while taken.count < limit {
            let outcome: AcceptOutcome
            do {
                outcome = try acceptOnce()
            } catch {
                if taken.isEmpty { throw error }
                return (taken, false)
            }
            switch outcome {
            case .accepted(let connection): taken.append(connection)
            case .brokenBeforeAccept: continue
            case .nothingPending: return (taken, true)
            }
        }
        return (taken, false)
    }

    /// What one non-blocking `srt_accept` found.
    private enum AcceptOutcome: Sendable {
        case accepted(SRTConnection)
        /// A caller that broke between the handshake and here: its own failure, not the listener's.
        case brokenBeforeAccept
        case nothingPending
    }

    /// One non-blocking accept and the adoption of its socket; on the control thread.
    private func acceptOnce() throws(SRTError) -> AcceptOutcome {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        var peer: SRTAddress?
        let accepted = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                let accepted = srt_accept(socket, address, &length)
                if accepted != SRT_INVALID_SOCK { peer = SRTAddress(address) }
                return accepted
            }
        }
        if accepted != SRT_INVALID_SOCK {
            guard
                let connection = try? SRTConnection(
                    adopting: accepted, after: .accept, peer: peer, payloadSize: configuration.payloadSize,
                    reactor: reactor)
            else {
                // The caller left before this accept (adoption checks): not a connection. Adoption closed the
                // socket; its pending slot is free now, not at the next handshake.
                context.settle(accepted)
                return .brokenBeforeAccept
            }
            track(connection)
            return .accepted(connection)
        }
        let error = SRTError.last(.accept, socket: socket)
        try checkOpen()
        // 6002 means both "nothing pending" and "listener closed"; the state tells them apart.
        guard error.code == .asyncReceive, error.socketState == .listening else { throw error }
        return .nothingPending
    }

    /// Connects to this listener with its reserved stream id: a live listener rejects at once with
    /// ``probeRejectReason``; a deaf one (dead receive thread) lets the connect time out with 1001.
    ///
    /// Runs entirely on the reactor; costs one short-lived libsrt caller socket. The probes of loopback listeners
    /// share one multiplexer per address family for the process (bound to 127.0.0.1 or ::1 on first use), so that
    /// they leave libsrt's garbage collector no multiplexer to free under its global lock; a probe that fails there
    /// is made again from a port of its own when that multiplexer turns out to be the cause (dead, or its port
    /// number taken by a wildcard socket of the other family).
    public func probe(timeout: Duration = .milliseconds(500)) async -> SRTProbeResult {
        let started = ContinuousClock.now
        let target = localAddress.connectable
        let origin = ProbeOrigin.for(target)
        let binding = await origin?.binding()
        var (alive, error) = await probe(target, from: binding?.address, timeout: timeout)
        if !alive, let origin, let binding, await origin.replaceIfAtFault(binding, after: error) {
            (alive, error) = await probe(target, from: nil, timeout: timeout)
        }
        return SRTProbeResult(isAlive: alive, latency: ContinuousClock.now - started, error: error)
    }

    /// One probe connect to `target` from `from` (a port of its own when `nil`): whether this listener rejected it
    /// with ``probeRejectReason``, and the connect's error.
    private func probe(_ target: SRTAddress, from: SRTAddress?, timeout: Duration) async -> (Bool, SRTError?) {
        do {
            let caller = try SRTCallerConfiguration(
                host: target.host, port: target.port, streamID: probeStreamID,
                latency: configuration.latency, passphrase: configuration.passphrase,
                keyLength: configuration.keyLength, enforcedEncryption: false, connectTimeout: timeout,
                bindAddress: from)
            let connection = try await SRTConnection.connect(caller, reactor: reactor)
            // Someone accepted the probe: not this listener's callback, so not proof of life.
            connection.close()
            return (false, nil)
        } catch let error as SRTError {
            return (error.code == .connectionRejected && error.rejectReason == Self.probeRejectReason, error)
        } catch {
            return (false, SRTError(code: .unknown, operation: .probe, message: "\(error)"))
        }
    }

    /// Whether the bound address is on some interface now (always true for wildcards). When it is not, the
    /// listener is alive and waits for it: a failed probe then means "address gone", not "restart" (§5).
    public var addressIsLocal: Bool {
        csrt_address_is_local(localAddress.host) != 0
    }

    /// Whether the UDP socket has no datagram waiting (`FIONREAD` is 0): someone reads it, so its receive thread
    /// lives, however slowly it answered. A deaf socket keeps the probe's handshake unread (fault A), or is not a
    /// socket any more (fault B); both read as `false`.
    ///
    /// A veto, not a proof: a live socket under traffic may have a datagram waiting at any instant.
    public var receiveQueueIsDrained: Bool {
        csrt_unread_bytes(udpDescriptor) == 0
    }

    /// The kernel's count of bytes queued on the UDP socket, `nil` once it is not a socket: it falls only when
    /// the receive thread reads.
    var receiveQueueMemory: Int? {
        let bytes = csrt_receive_queue_memory(udpDescriptor)
        return bytes < 0 ? nil : bytes
    }

    /// Whether anything shows the receive thread reading this listener's UDP socket within `window` (five looks):
    /// the queue found empty (a live thread empties it within microseconds), the queue's memory falling (only a
    /// reader makes it fall, so this holds under a flood that never lets it empty), or a connection on the socket
    /// receiving packets. A dead thread shows none of these: its queue keeps what arrived, the probe's own
    /// handshakes included, and a retired socket is not a socket any more. Measured: a live listener carrying 1,000
    /// streams at 10,000 messages/s under `perf` had a datagram waiting at a single look, and was retired.
    func isBeingRead(over window: Duration) async throws -> Bool {
        let connections = connectionsOnSocket
        var received: [Int64?] = []
        for connection in connections { received.append(try? await connection.currentStatistics().packetsReceived) }
        if try await queueShowsReading(over: window, pauseFirst: false) { return true }
        for (connection, before) in zip(connections, received) {
            if let before, let now = try? await connection.currentStatistics().packetsReceived, now > before {
                return true
            }
        }
        return false
    }

    /// Whether the receive thread still reads, found without libsrt's handshake (no 100 ms timeout to wait out): by
    /// the thread itself when it is known (one `tgkill`), otherwise by one 1-byte datagram sent to the listener's own
    /// port, which a live receive thread reads within microseconds and a dead one leaves queued. The queue is
    /// looked at five times over `window`: found empty, or its memory falling (a flood that never lets it empty),
    /// means read. Never ``ListenerLiveness/dead`` on the datagram alone: a starved live thread also leaves it
    /// unread for a while, so that is ``ListenerLiveness/unsure`` and the handshake probe decides.
    func quickCheck(window: Duration) async throws -> ListenerLiveness {
        if let gone = receiveThreadIsGone { return gone ? .dead : .alive }
        // An address on no interface (a listener waiting for it) must not send the byte out by another route.
        guard addressIsLocal else { return .unchecked }
        let target = localAddress.connectable
        guard target.withSocketAddress({ csrt_udp_poke($0, $1) }) == 0 else { return .unchecked }
        // Looked at only after a first pause: on loopback the datagram may still be on its way into the queue.
        return try await queueShowsReading(over: window, pauseFirst: true) ? .alive : .unsure
    }

    /// The kernel's id of the multiplexer's receive thread (``ReceiveThreads``), `nil` while it is not known: told
    /// apart at bind unless another multiplexer of the process started during the same `srt_bind_acquire`, and
    /// learned for certain from the first handshake (the self-probe's included).
    var receiveThread: Int32? {
        let thread = context.receiveThread.load(ordering: .relaxed)
        return thread == 0 ? nil : thread
    }

    /// Forgets the receive thread, as when another multiplexer started during the same bind (tests of the quick
    /// check's datagram); the next handshake teaches it again.
    func forgetReceiveThread() {
        context.receiveThread.store(0, ordering: .relaxed)
    }

    /// What the receive thread says about a death signal, without a probe: `true` when `death` is this listener's
    /// receive thread, or that thread is gone; `false` when it still runs and the death names another thread (this
    /// listener may be starved or waiting on access-control decisions, but it is alive); `nil` when the thread is not
    /// known, or the death names no thread (this one, still listed, may be the one on its way out).
    func isDead(after death: ReceiveThreadDeath) -> Bool? {
        guard let thread = receiveThread else { return nil }
        if death.thread == thread || !ReceiveThreads.isRunning(thread) { return true }
        return death.thread == nil ? nil : false
    }

    /// Whether the UDP socket's queue shows a reader at one of five looks over `window`: found empty, or its memory
    /// lower than at the look before. The first look comes at once, or after a fifth of the window (`pauseFirst`).
    private func queueShowsReading(over window: Duration, pauseFirst: Bool) async throws -> Bool {
        var lastMemory = receiveQueueMemory
        for look in 0..<5 {
            if pauseFirst || look > 0 { try await Task.sleep(for: window / 5) }
            if receiveQueueIsDrained { return true }
            let memory = receiveQueueMemory
            if let memory, let last = lastMemory, memory < last { return true }
            lastMemory = memory
        }
        return false
    }

    /// Whether ``close()`` (or a retire) closed this listener here.
    var isClosedLocally: Bool {
        closed.load(ordering: .acquiring)
    }

    /// Whether the receive thread is gone (it died); `nil` when it is not known.
    var receiveThreadIsGone: Bool? {
        receiveThread.map { !ReceiveThreads.isRunning($0) }
    }

    /// Whether the listener turns callers away as unavailable (1503) instead of connecting them; its probe is still
    /// answered. ``SRTListener`` sets it on a listener kept through a restart that no start took in time.
    var refusesCallers: Bool {
        get { context.refusing.load(ordering: .relaxed) }
        set { context.refusing.store(newValue, ordering: .relaxed) }
    }

    /// Whether a probe found the receive thread dead; ``SRTListener`` retires such a listener when it stops it.
    public var isDead: Bool {
        dead.load(ordering: .acquiring)
    }

    /// Marks the listener dead, and records the death for the process (``SRTRuntime/hasSeenReceiveThreadDeath``,
    /// which ``SRTRuntime/exit(_:)`` reads) when no log line reported it.
    func markDead() {
        dead.store(true, ordering: .releasing)
        SRTRuntime.recordUnloggedDeath(thread: receiveThread, since: listeningSince)
    }

    /// libsrt's view; ``SRTSocketState/listening`` even when the receive thread is dead (use ``probe(timeout:)``).
    public var state: SRTSocketState {
        closed.load(ordering: .acquiring) ? .closed : SRTSocketState(srt_getsockstate(socket))
    }

    /// The thread that runs the access control, if there is one (tests measure the receive thread's waits).
    var accessWorker: AccessControlWorker? {
        context.accessWorker
    }

    /// The accepted connections that are still open.
    public var openConnections: [SRTConnection] {
        context.connections.withLock { $0.values.compactMap(\.connection) }
    }

    /// The connection slots the cap counts as open (for tests).
    var openConnectionSlots: Int {
        context.openConnectionCount
    }

    /// The handshakes the callback admitted that no accept has taken or settled yet (for tests).
    var pendingHandshakeCount: Int {
        context.pending.withLock { $0.count }
    }

    /// Closes the listener; its accepted connections stay open and keep the UDP socket (`Docs/libsrt-failure-modes.md
    /// §5`). Pending accepts end with ``SRTError/Code/closedLocally``. Idempotent.
    public func close() {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        let socket = self.socket
        ListenerRegistry.remove(registryKey)
        // Closing a listener wakes no epoll wait: resume the accepts ourselves; they find it closed.
        reactor.deregister(socket)
        // srt_close waits on libsrt's global lock: on the control thread, before any later bind of the port.
        SRTControlThread.shared.submit { srt_close(socket) }
    }

    /// Retires a listener whose receive thread died: closes it and every connection on its UDP socket (they are
    /// deaf too, including those of listeners it took the socket over from), then puts /dev/null over the UDP
    /// descriptor, which frees the port and stops libsrt from matching the dead multiplexer. Returns the connections it
    /// closed, for reporting, once the port is free (the closes run first, so that libsrt tells their peers).
    /// Idempotent.
    ///
    /// When it closed connections, libsrt keeps the dead multiplexer for the life of the process: it is counted in
    /// ``SRTRuntime/leakedMultiplexerCount``.
    ///
    /// Only after a death: on a live multiplexer the /dev/null would itself kill the receive thread, libsrt closes
    /// the descriptor itself, and the number may since belong to someone else. So unless a probe found this
    /// listener dead or the process has seen a receive thread die, this only closes the listener and returns `[]`.
    @discardableResult
    public func retire() async -> [SRTConnection] {
        guard isDead || SRTRuntime.hasSeenReceiveThreadDeath else {
            close()
            return []
        }
        guard retired.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return [] }
        close()
        let victims = connectionsOnSocket
        for connection in victims { connection.close() }
        // On the control thread, after those closes: each one tells its peer (libsrt sends the SHUTDOWN on this
        // socket as it closes), which a caller that reconnects on its own takes as its cue; with /dev/null already
        // over the socket, the peers would notice only at their idle timeout (5 s). Awaited: the port is free once
        // this returns. The /dev/null opened at start-up: the process may be out of descriptors by now.
        let (descriptor, identity) = (udpDescriptor, udpIdentity)
        // Our socket still (fault A): retired; another file (fault B's /dev/null): left alone.
        await SRTControlThread.shared.run { SRTRuntime.retireDeadSocket(descriptor, identity: identity) }
        // A dead multiplexer that carried connections is never freed by libsrt 1.5.1: it stays for good.
        if !victims.isEmpty { SRTRuntime.recordLeakedMultiplexer() }
        return victims
    }

    public var description: String {
        "SRT listener @\(socket) on \(localAddress)"
    }

    private func track(_ connection: SRTConnection) {
        let context = self.context
        context.connections.withLock { $0[connection.socket] = WeakConnection(connection: connection) }
        context.settle(connection.socket)
        connection.setOnClose { socket in
            _ = context.connections.withLock { $0.removeValue(forKey: socket) }
        }
    }

    private func checkOpen() throws(SRTError) {
        if closed.load(ordering: .acquiring) {
            throw SRTError(code: .closedLocally, operation: .accept, message: "the listener was closed")
        }
    }
}
