import CSRT
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One SRT connection in live mode: messages in and out, its stream id, its peer, its statistics.
///
/// Every call that would block waits on the process's reactor thread instead, so a receive costs a suspended
/// task, not a thread; every wait ends promptly when the task is cancelled or the connection is closed.
///
/// ```swift
/// let connection = try await SRTConnection.connect(
///     try SRTCallerConfiguration(host: "127.0.0.1", port: 9000, streamID: "publish/cam1"))
/// try await connection.send(Array(repeating: 0x47, count: 1316))
/// let message = try await connection.receive()   // one message, at most the payload size
/// print(try connection.statistics().bytesReceived)
/// connection.close()
/// ```
public final class SRTConnection: Sendable, CustomStringConvertible {
    let socket: SRTSOCKET
    let reactor: SRTReactor
    private let closed = Atomic<Bool>(false)
    /// The last batch read and how many of its messages ``receive()`` has handed out already.
    private let pending = Mutex<(batch: SRTMessageBatch, next: Int)>((SRTMessageBatch([]), 0))
    /// The reactor's edge count read before a look that emptied libsrt's queue: the next look waits for a newer
    /// edge first rather than making a trip to the control thread to find nothing.
    private let quietSince = Mutex<UInt64?>(nil)
    private let onClose = Mutex<(@Sendable (SRTSOCKET) -> Void)?>(nil)

    /// The stream id the caller sent (on accepted connections) or that this side sent (on callers).
    public let streamID: String
    /// The address of the other side.
    public let peerAddress: SRTAddress?
    /// The largest message this connection sends or receives.
    public let payloadSize: Int
    /// When the adapter took the connected socket over (an accept returned it, or a connect completed): tests time
    /// accepts by it, where they happen rather than when a task gets to them.
    let adoptedAt = ContinuousClock.now
    /// A caller's own UDP socket, created here and handed to libsrt (`srt_bind_acquire`), so that the caller can
    /// watch its receive queue and retire it after its receive thread died; `nil` on accepted connections and on
    /// callers bound to a fixed local port (which share libsrt's socket with other callers on that port).
    let udpDescriptor: Int32?
    /// The device and inode of ``udpDescriptor`` when it was adopted: a descriptor number can come to name another
    /// file (a double close elsewhere, a `dup2`), and only this tells that it is no longer the caller's socket.
    private let udpIdentity: (device: UInt64, inode: UInt64)?
    /// The kernel's id of the receive thread of the caller's own multiplexer (``udpDescriptor``'s), told apart when
    /// the bind started it; `nil` on accepted connections, on callers bound to a fixed port, and when another
    /// multiplexer started during the same bind. Gone at ``close()``: libsrt keeps that multiplexer for good.
    let receiveThread: pid_t?

    /// Adopts a connected, non-blocking socket: checks that it is still connected, subscribes it to the reactor and
    /// reads its stream id. Every one of these calls waits on libsrt's global lock: run it on the
    /// ``SRTControlThread``.
    ///
    /// - Throws: ``SRTError`` with ``SRTError/Code/connectionLost`` (the socket closed) when the peer broke or
    ///   closed after its handshake: `srt_accept` hands such sockets out until libsrt's collector drops them from
    ///   the queue, about a second later, and the subscription would take them without an event.
    ///
    /// - Parameter operation: what made the socket, ``SRTError/Operation/accept`` or ``SRTError/Operation/connect``.
    /// - Parameter peer: the address `srt_accept` returned, or the one a caller connected to (libsrt 1.5.1's
    ///   `srt_getpeername` answers on a connected caller socket with success and an empty address).
    /// - Parameter udpDescriptor: the caller's own UDP socket, see ``udpDescriptor``.
    /// - Parameter receiveThread: the receive thread of that socket's multiplexer, see ``receiveThread``.
    init(
        adopting socket: SRTSOCKET, after operation: SRTError.Operation, peer: SRTAddress?, payloadSize: Int,
        reactor: SRTReactor, udpDescriptor: Int32? = nil, receiveThread: pid_t? = nil
    ) throws(SRTError) {
        self.socket = socket
        self.reactor = reactor
        self.payloadSize = payloadSize
        self.udpDescriptor = udpDescriptor
        self.receiveThread = receiveThread
        self.udpIdentity = udpDescriptor.flatMap(POSIX.fileIdentity(of:))
        self.peerAddress = peer
        let state = SRTSocketState(srt_getsockstate(socket))
        guard state == .connected else {
            srt_close(socket)
            throw SRTError(
                code: .connectionLost, operation: operation, message: "the peer left before it was taken over",
                socketState: state)
        }
        do {
            try reactor.register(socket, for: [.read, .write])
        } catch {
            srt_close(socket)
            throw error
        }
        var buffer = [CChar](repeating: 0, count: 513)
        self.streamID =
            csrt_get_string(socket, SRTO_STREAMID, &buffer, Int32(buffer.count)) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    deinit {
        close()
    }

    /// Connects to a listener without blocking a thread: the handshake runs in libsrt, the task waits on the reactor.
    ///
    /// - Throws: ``SRTError`` with code ``SRTError/Code/noServer`` (1001) when nobody answers within
    ///   ``SRTCallerConfiguration/connectTimeout``, ``SRTError/Code/connectionRejected`` (1002) with the listener's
    ///   ``SRTError/rejectReason``, ``SRTError/Code/connectionSetup`` (1000) with errno EMFILE when the process is
    ///   (nearly) out of file descriptors (``SRTRuntime/reservedDescriptors``), or `CancellationError` (the
    ///   half-open socket is closed).
    public static func connect(_ configuration: SRTCallerConfiguration) async throws -> SRTConnection {
        try await connect(configuration, reactor: .shared)
    }

    static func connect(_ configuration: SRTCallerConfiguration, reactor: SRTReactor) async throws -> SRTConnection {
        SRTRuntime.ensureStarted()
        // A caller gets a UDP socket of its own unless bound to a fixed port; the last descriptors stay free (a
        // caller bound where other callers are shares their socket and may need none).
        if (configuration.bindAddress?.port ?? 0) == 0, !SRTRuntime.hasDescriptorHeadroom {
            throw SRTRuntime.descriptorShortage(.connect, code: .connectionSetup)
        }
        let control = SRTControlThread.shared
        // Every libsrt call of a connect waits on libsrt's global lock: they run on the control thread, and this
        // task only waits.
        let (socket, own) = try await control.run { () throws(SRTError) in
            try start(configuration, reactor: reactor)
        }
        do {
            // When the socket first read BROKEN without a reject reason (see `completingHandshakeGrace`).
            var brokenWithoutReasonSince: ContinuousClock.Instant?
            while true {
                let (state, reason, marked) = await control.run {
                    (
                        SRTSocketState(srt_getsockstate(socket)), srt_getrejectreason(socket),
                        csrt_is_marked_broken(socket) == 1
                    )
                }
                if state == .connected { break }
                // BROKEN, no reason and not marked broken: what a handshake that is completing reads as. A peer's
                // close or a timeout marks the socket broken, and fails at once below.
                if state == .broken, reason == Int32(SRT_REJ_UNKNOWN.rawValue), !marked {
                    // Wait for CONNECTED (its write event), for a bounded time; the reactor's tick wakes this wait
                    // while the socket reads broken.
                    let since = brokenWithoutReasonSince ?? .now
                    brokenWithoutReasonSince = since
                    if ContinuousClock.now - since < completingHandshakeGrace(configuration) {
                        try await reactor.wait(for: .write, on: socket)
                        continue
                    }
                }
                if state.isClosedOrBroken {
                    // libsrt's reject reason says what happened; 16 (timeout) is what blocking mode reports as 1001.
                    let code: SRTError.Code =
                        reason == Int32(SRT_REJ_TIMEOUT.rawValue) ? .noServer : .connectionRejected
                    throw SRTError(
                        code: code, operation: .connect,
                        message: "connection to \(configuration.address) failed", rejectReason: reason,
                        socketState: state)
                }
                try await reactor.wait(for: .write, on: socket)
            }
        } catch {
            reactor.deregister(socket)
            control.submit { srt_close(socket) }
            throw error
        }
        reactor.deregister(socket)
        return try await control.run { () throws(SRTError) in
            // Handed over to the connection's own subscription, read and write, from here.
            reactor.unsubscribe(socket)
            return try SRTConnection(
                adopting: socket, after: .connect, peer: configuration.address,
                payloadSize: configuration.payloadSize, reactor: reactor, udpDescriptor: own?.descriptor,
                receiveThread: own?.receiveThread)
        }
    }

    /// How long a connecting socket may read BROKEN with reject reason 0 (unknown), without libsrt's broken mark,
    /// before the connect counts as failed: the connect timeout, and at least 1 s.
    ///
    /// libsrt 1.5.1 reports exactly that while a caller's handshake completes: `CUDT::postConnect` clears the
    /// socket's "connecting" flag, looks the socket up under libsrt's global lock, and only then sets "connected";
    /// meanwhile `srt_getsockstate` answers BROKEN for a socket still marked CONNECTING with neither flag set. That
    /// lasts as long as the receive thread waits for the lock (other sockets' creates, binds and closes, the garbage
    /// collector: seconds after a mass close), and the socket is CONNECTED right after. A real failure says why (16
    /// for a timeout, the listener's code for a rejection) or carries the broken mark (`SRTO_EVENT`'s error bit: a
    /// peer that closed at once), and fails without waiting.
    static func completingHandshakeGrace(_ configuration: SRTCallerConfiguration) -> Duration {
        max(.seconds(1), configuration.connectTimeout)
    }

    /// Creates the caller socket, sets its options, binds it (``bindLocally(_:_:)``), subscribes it and starts a
    /// non-blocking connect; on the ``SRTControlThread``. Returns the connecting socket and the caller's own UDP
    /// socket with its receive thread, or closes it and throws.
    private static func start(_ configuration: SRTCallerConfiguration, reactor: SRTReactor) throws(SRTError)
        -> (SRTSOCKET, OwnSocket?)
    {
        let socket = srt_create_socket()
        guard socket != SRT_INVALID_SOCK else { throw SRTError.last(.createSocket) }
        do throws(SRTError) {
            let options = SRTSocketOptions(socket: socket)
            try options.setCommon(
                latency: configuration.latency, payloadSize: configuration.payloadSize,
                passphrase: configuration.passphrase, keyLength: configuration.keyLength,
                enforcedEncryption: configuration.enforcedEncryption)
            try options.set(SRTO_SENDER, true, "SRTO_SENDER")
            try options.set(
                SRTO_CONNTIMEO, Int32(clamping: configuration.connectTimeout.wholeMilliseconds), "SRTO_CONNTIMEO")
            if !configuration.streamID.isEmpty {
                try options.set(SRTO_STREAMID, configuration.streamID, "SRTO_STREAMID")
            }
            // Non-blocking connect: srt_connect returns at once, the outcome arrives as an epoll event.
            try options.setNonBlocking()
        } catch {
            srt_close(socket)
            throw error
        }
        let own: OwnSocket?
        do {
            own = try bindLocally(socket, configuration)
        } catch {
            srt_close(socket)
            throw error
        }
        do {
            try reactor.register(socket, for: [.read, .write])
        } catch {
            srt_close(socket)
            throw error
        }
        let started = configuration.address.withSocketAddress { srt_connect(socket, $0, $1) }
        if started == SRT_ERROR {
            let error = SRTError.last(.connect, socket: socket)
            reactor.deregister(socket)
            srt_close(socket)
            throw error
        }
        return (socket, own)
    }

    /// A caller's own UDP socket and the receive thread its multiplexer started with (`nil` when not told apart).
    private struct OwnSocket: Sendable {
        let descriptor: Int32
        let receiveThread: pid_t?
    }

    /// Whether ``udpDescriptor`` still names the UDP socket the caller bound (same device and inode); `false` once
    /// the number names another file or nothing, `nil` without an own socket.
    var udpDescriptorIsOwn: Bool? {
        guard let udpDescriptor, let udpIdentity else { return nil }
        guard let now = POSIX.fileIdentity(of: udpDescriptor) else { return false }
        return now == udpIdentity
    }

    /// Binds a caller's socket before it connects. Unless the configuration names a fixed local port, the UDP socket
    /// is created here (on the bind address, or the wildcard of the peer's family, port 0) and handed to libsrt, which
    /// then closes it with the multiplexer; returns its descriptor and the receive thread the bind started. A fixed
    /// port is bound by libsrt (`srt_bind`), so that callers on that port share one UDP socket as before; returns
    /// `nil` then.
    private static func bindLocally(_ socket: SRTSOCKET, _ configuration: SRTCallerConfiguration) throws(SRTError)
        -> OwnSocket?
    {
        if let local = configuration.bindAddress, local.port != 0 {
            guard local.withSocketAddress({ srt_bind(socket, $0, $1) }) != SRT_ERROR else {
                throw SRTError.last(.bind, socket: socket)
            }
            return nil
        }
        // Where libsrt would bind an unbound caller itself: the wildcard of the peer's family, a port of the kernel's,
        // an IPv6 socket that takes IPv4-mapped peers too.
        let local =
            configuration.bindAddress
            ?? SRTAddress(validHost: configuration.address.isIPv6 ? "::" : "0.0.0.0", port: 0)
        var bindErrno: Int32 = 0
        let descriptor = local.withSocketAddress { csrt_udp_bind_v6only($0, $1, 0, &bindErrno) }
        guard descriptor >= 0 else {
            throw SRTError(
                code: .socketFailure, systemErrno: bindErrno, operation: .udpBind,
                message: "cannot bind a UDP socket to \(local) for the caller")
        }
        // The multiplexer's receive thread starts inside srt_bind_acquire (on the control thread, one bind at a time):
        // the threads listed without their names, so that a process of thousands of threads pays one listing.
        let before = ReceiveThreads.tasks()
        guard srt_bind_acquire(socket, descriptor) != SRT_ERROR else {
            let error = SRTError.last(.bind, socket: socket)
            // libsrt did not take it: still ours to close.
            POSIX.closeDescriptor(descriptor)
            throw error
        }
        return OwnSocket(descriptor: descriptor, receiveThread: ReceiveThreads.started(sinceTasks: before))
    }

    /// Receives one message; waits (cancellably) until one arrives.
    ///
    /// libsrt's receive looks the socket up under its global lock, so the reads run on the adapter's control
    /// thread, as many messages at a time as are waiting (at most `receiveLimit`, 128); the next calls hand them out
    /// without a libsrt call.
    ///
    /// - Throws: ``SRTError`` when the connection broke (2001) or was closed (``SRTError/Code/closedLocally``),
    ///   `CancellationError` when the task was cancelled.
    public func receive() async throws -> [UInt8] {
        while true {
            try checkOpen(.receive)
            let message = pending.withLock { pending -> [UInt8]? in
                guard pending.next < pending.batch.count else { return nil }
                defer { pending.next += 1 }
                return Array(pending.batch[pending.next])
            }
            if let message { return message }
            try Task.checkCancellation()
            let (batch, failure) = try await look()
            if !batch.isEmpty {
                // After what another task's read left, if any: two readers of one connection lose nothing.
                pending.withLock { pending in
                    let left = pending.batch.dropping(pending.next)
                    pending = (left.isEmpty ? batch : left.appending(batch), 0)
                }
                continue
            }
            if let failure { throw closedOr(failure) }
        }
    }

    /// Receives every message waiting, at least one; waits (cancellably) until one arrives.
    ///
    /// A fan-out or a recorder that handles messages in groups pays one wake-up per group instead of one per message:
    /// the group is what one read on the control thread found (at most `receiveLimit`, 128).
    ///
    /// ```swift
    /// while true {
    ///     let messages = try await connection.receiveAvailable()
    ///     for reader in readers { reader.enqueue(messages) }
    /// }
    /// ```
    ///
    /// - Throws: as ``receive()``.
    public func receiveAvailable() async throws -> [[UInt8]] {
        try await receiveBatch().map { Array($0) }
    }

    /// Receives every message waiting, at least one, back to back in one buffer; waits (cancellably) until one
    /// arrives. The cheapest receive: two allocations per batch, none per message, and a recorder appends
    /// ``SRTMessageBatch/bytes`` in one copy.
    ///
    /// ```swift
    /// while true {
    ///     let batch = try await connection.receiveBatch()
    ///     try recorder.append(batch.bytes)
    /// }
    /// ```
    ///
    /// - Throws: as ``receive()``.
    public func receiveBatch() async throws -> SRTMessageBatch {
        while true {
            try checkOpen(.receive)
            let held = pending.withLock { pending in
                defer { pending = (SRTMessageBatch([]), 0) }
                return pending.batch.dropping(pending.next)
            }
            if !held.isEmpty { return held }
            try Task.checkCancellation()
            let (batch, failure) = try await look()
            if !batch.isEmpty { return batch }
            if let failure { throw closedOr(failure) }
        }
    }

    /// One read on the control thread, after waiting for the reactor when the last one emptied libsrt's queue and
    /// no edge came since: a stream costs one trip per batch, not a second that finds nothing. Returns what it read
    /// (possibly nothing, the queue then empty) and the error that ended it.
    private func look() async throws -> (SRTMessageBatch, SRTError?) {
        let socket = self.socket
        if let quiet = quietSince.withLock({ quiet in
            defer { quiet = nil }
            return quiet
        }) {
            try await reactor.wait(for: .read, on: socket, after: quiet)
            // A close resumes the wait: no libsrt call after it.
            try checkOpen(.receive)
        }
        // Before the read: an edge after this may bring what the read misses.
        let seen = reactor.edges(of: socket)
        let (batch, failure, drained) = await SRTControlThread.shared.run {
            Self.read(socket, upTo: Self.receiveLimit)
        }
        if drained { quietSince.withLock { $0 = seen } }
        return (batch, failure)
    }

    /// How many messages one read on the control thread takes at most: about a fifth of a second of a 5 Mbit/s
    /// stream, or what 500 Mbit/s brings in the reactor's 2 ms of gathering (95), so a fast stream costs one trip.
    static let receiveLimit = 128

    /// The largest live-mode message (1456 bytes) with room to spare.
    private static let messageCapacity = 1500

    /// Where the reads land before they leave in one array of exactly their size: they run on the control thread,
    /// one at a time, so one buffer serves every connection. Taken with ``readBufferTaken``: a process out of threads
    /// runs them on their callers, and a read that finds it taken uses one of its own.
    nonisolated(unsafe) private static let readBuffer = UnsafeMutableRawBufferPointer.allocate(
        byteCount: receiveLimit * messageCapacity, alignment: 16)
    private static let readBufferTaken = Atomic(false)

    /// Reads the messages waiting on `socket`, up to `limit`; with none, the error that ended the read (`nil` when it
    /// only would have blocked), and whether the read ended on an empty queue. On the control thread.
    private static func read(_ socket: SRTSOCKET, upTo limit: Int) -> (SRTMessageBatch, SRTError?, Bool) {
        if readBufferTaken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            defer { readBufferTaken.store(false, ordering: .releasing) }
            return read(socket, upTo: limit, into: readBuffer)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: limit * messageCapacity, alignment: 16)
        defer { buffer.deallocate() }
        return read(socket, upTo: limit, into: buffer)
    }

    private static func read(
        _ socket: SRTSOCKET, upTo limit: Int, into buffer: UnsafeMutableRawBufferPointer
    ) -> (SRTMessageBatch, SRTError?, Bool) {
        var used = 0
        var ends: [Int] = []
        ends.reserveCapacity(limit)
        // Bounded by the buffer as well as by `limit`: each read needs room for the largest message.
        while ends.count < limit, used + messageCapacity <= buffer.count {
            let received = srt_recvmsg2(
                socket, (buffer.baseAddress! + used).assumingMemoryBound(to: CChar.self), Int32(messageCapacity), nil)
            if received >= 0 {
                used += Int(received)
                ends.append(used)
                continue
            }
            // The common case, nothing more to read, looks nothing up: each lookup takes libsrt's global lock.
            let error = SRTError.lastUnlessWouldBlock(.receive, .asyncReceive, socket: socket)
            // Messages first; an error after them comes back at the next read.
            return (batch(buffer, used, ends), ends.isEmpty ? error : nil, error == nil)
        }
        return (batch(buffer, used, ends), nil, false)
    }

    /// The first `used` bytes of `buffer`, cut at `ends`, copied into a batch of their own.
    private static func batch(_ buffer: UnsafeMutableRawBufferPointer, _ used: Int, _ ends: [Int]) -> SRTMessageBatch {
        SRTMessageBatch(bytes: Array(UnsafeRawBufferPointer(rebasing: buffer[0..<used])), ends: ends)
    }

    /// Sends one message of at most ``payloadSize`` bytes; waits (cancellably) while the send buffer is full.
    ///
    /// The send runs on the adapter's control thread: libsrt's send looks the socket up under its global lock.
    public func send(_ message: [UInt8]) async throws {
        // libsrt would say 5009 (message API) with only a log line for the reason.
        guard message.count <= payloadSize else {
            throw SRTError(
                code: .messageTooLarge, operation: .send,
                message: "a message of \(message.count) bytes exceeds the payload size \(payloadSize)")
        }
        let socket = self.socket
        while true {
            try checkOpen(.send)
            try Task.checkCancellation()
            let outcome = await SRTControlThread.shared.run { () -> SRTError?? in
                let sent = message.withUnsafeBytes { bytes in
                    srt_sendmsg2(
                        socket, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil)
                }
                // nil: sent; .some(nil): the buffer is full; .some(error): failed.
                return sent >= 0 ? nil : .some(SRTError.lastUnlessWouldBlock(.send, .asyncSend, socket: socket))
            }
            guard let failure = outcome else { return }
            if let failure { throw closedOr(failure) }
            try await reactor.wait(for: .write, on: socket)
        }
    }

    /// Sends `messages` in order, each of at most ``payloadSize`` bytes; waits (cancellably) while the send buffer is
    /// full. As many as the buffer takes go in one hop to the control thread, so a fan-out pays one hop per group.
    ///
    /// - Throws: as ``send(_:)``; the messages before the failing one were sent.
    public func send(contentsOf messages: [[UInt8]]) async throws {
        if let large = messages.first(where: { $0.count > payloadSize }) {
            throw SRTError(
                code: .messageTooLarge, operation: .send,
                message: "a message of \(large.count) bytes exceeds the payload size \(payloadSize)")
        }
        let socket = self.socket
        var sent = 0
        while sent < messages.count {
            try checkOpen(.send)
            try Task.checkCancellation()
            let start = sent
            let (count, failure) = await SRTControlThread.shared.run { () -> (Int, SRTError?) in
                var index = start
                while index < messages.count {
                    let result = messages[index].withUnsafeBytes { bytes in
                        srt_sendmsg2(
                            socket, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil)
                    }
                    // A full buffer (nil) ends this hop without an error.
                    guard result >= 0 else {
                        return (index - start, SRTError.lastUnlessWouldBlock(.send, .asyncSend, socket: socket))
                    }
                    index += 1
                }
                return (index - start, nil)
            }
            sent += count
            if let failure { throw closedOr(failure) }
            if sent < messages.count { try await reactor.wait(for: .write, on: socket) }
        }
    }

    /// Offers the same `messages` to each of `connections` in one hop to the control thread, without waiting: each
    /// takes them in order until its send buffer is full or it fails. Returns how many each took; the rest are the
    /// caller's to send the usual way (``send(contentsOf:)``, which waits for room and reports a failure).
    ///
    /// A fan-out pays one hop per group for all its readers, instead of a hop and two task wake-ups per reader:
    ///
    /// ```swift
    /// let taken = await SRTConnection.offer(messages, to: readers.map(\.connection))
    /// for (reader, count) in zip(readers, taken) where count < messages.count {
    ///     reader.queue.append(Array(messages[count...]))
    /// }
    /// ```
    ///
    /// A closed connection, or a message larger than a connection's ``payloadSize``, takes nothing.
    public static func offer(_ messages: [[UInt8]], to connections: [SRTConnection]) async -> [Int] {
        let targets = connections.map { ($0.socket, $0.payloadSize, $0.isClosed) }
        return await SRTControlThread.shared.run { () -> [Int] in
            targets.map { socket, payloadSize, closed in
                guard !closed else { return 0 }
                var taken = 0
                for message in messages {
                    guard message.count <= payloadSize else { break }
                    let sent = message.withUnsafeBytes { bytes in
                        srt_sendmsg2(
                            socket, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil)
                    }
                    guard sent >= 0 else {
                        // Full or failed: the caller's own send waits for room, or reports the failure.
                        srt_clearlasterror()
                        break
                    }
                    taken += 1
                }
                return taken
            }
        }
    }

    /// libsrt's counters for this connection (`srt_bstats`); `clear` resets the interval counters.
    ///
    /// `srt_bstats` waits on libsrt's global lock, which its garbage collector holds for tenths of a second after
    /// many sockets closed: from async code prefer ``currentStatistics(clear:)``, which waits without a thread.
    public func statistics(clear: Bool = false) throws(SRTError) -> SRTStatistics {
        try checkOpen(.statistics)
        var raw = SRT_TRACEBSTATS()
        guard srt_bstats(socket, &raw, clear ? 1 : 0) == 0 else { throw SRTError.last(.statistics, socket: socket) }
        return SRTStatistics(raw)
    }

    /// ``statistics(clear:)`` read on the adapter's control thread: the task is suspended while libsrt's global lock
    /// is held elsewhere, instead of holding a thread of the cooperative pool.
    public func currentStatistics(clear: Bool = false) async throws(SRTError) -> SRTStatistics {
        try await SRTControlThread.shared.run { () throws(SRTError) in try self.statistics(clear: clear) }
    }

    /// What libsrt says about the socket; see ``SRTSocketState`` for why ``SRTSocketState/connected`` may lie.
    /// (`srt_getsockstate` takes libsrt's global lock, as ``statistics(clear:)`` does.)
    public var state: SRTSocketState {
        closed.load(ordering: .acquiring) ? .closed : SRTSocketState(srt_getsockstate(socket))
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool {
        closed.load(ordering: .acquiring)
    }

    /// Closes the connection; pending receives and sends end with ``SRTError/Code/closedLocally``. Idempotent.
    ///
    /// Returns at once: `srt_close` waits on libsrt's global lock, so it runs on the adapter's control thread, in
    /// order with every other such call (a bind of the same port comes after it). ``SRTServer/run()`` returns only
    /// after the closes of its connections ran.
    ///
    /// A caller whose own multiplexer's receive thread died (`receiveThread` gone) leaves that multiplexer to
    /// libsrt for good: the close counts it in ``SRTRuntime/leakedMultiplexerCount``, as a listener's retire does.
    public func close() {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        // Marked closed before the waiters wake: they find the socket closed, not quiet, and call no libsrt.
        reactor.deregister(socket)
        let socket = self.socket
        SRTControlThread.shared.submit { srt_close(socket) }
        // The own multiplexer's receive thread died with this connection on it: libsrt never frees that multiplexer.
        if let receiveThread, !ReceiveThreads.isRunning(receiveThread) { SRTRuntime.recordLeakedMultiplexer() }
        onClose.withLock { $0 }?(socket)
    }

    /// Called once after ``close()``; the listener uses it to count its open connections.
    func setOnClose(_ body: @escaping @Sendable (SRTSOCKET) -> Void) {
        onClose.withLock { $0 = body }
    }

    public var description: String {
        "SRT connection @\(socket) from \(peerAddress.map(String.init(describing:)) ?? "?"), stream id \"\(streamID)\""
    }

    private func checkOpen(_ operation: SRTError.Operation) throws(SRTError) {
        if closed.load(ordering: .acquiring) {
            throw SRTError(code: .closedLocally, operation: operation, message: "the connection was closed")
        }
    }

    /// libsrt says 5004 both after our own close and after its garbage collector released a socket the peer
    /// broke (measured: within about a second); say which of the two happened.
    private func closedOr(_ error: SRTError) -> SRTError {
        if closed.load(ordering: .acquiring) {
            return SRTError(code: .closedLocally, operation: error.operation, message: "the connection was closed")
        }
        if error.code == .invalidSocket {
            return SRTError(
                code: .connectionLost, operation: error.operation,
                message: "the connection broke and libsrt released the socket")
        }
        return error
    }
}
