public import Logging
public import ServiceLifecycle
public import Supervisor
import Synchronization

#if os(Linux)
    import CNetlink
    import Glibc
#endif

/// Wakes supervisors when the network comes back: an interface goes up, an address is added, a route appears.
///
/// A listener that cannot bind during an outage backs off; with full jitter and a cap of 30 s it would notice
/// the address's return 10 s late on average. A supervisor registered here retries soon after the change instead:
/// its `ResourceSupervisor.wake(spread:)` cuts the pending backoff short, and it starts at a random instant within
/// the spread (100 ms by default), so that the supervisors of one process do not all start at the same instant; a
/// supervisor whose start is in progress remembers it for the backoff after a failure, and one that serves ignores
/// it.
///
/// ```swift
/// let monitor = NetworkChangeMonitor(logger: logger)
/// monitor.add(listenerSupervisor)
/// let group = ServiceGroup(services: [monitor, listenerSupervisor], logger: logger)
/// ```
///
/// Only changes that can help a bind or a connect wake anyone: an interface that is up and running, an address a
/// socket can bind (not an IPv6 address still tentative in duplicate address detection), a route of the main table.
/// When the kernel drops messages because the monitor fell behind (ENOBUFS), everything is taken as changed and the
/// socket's receive buffer is doubled (up to 16 MiB).
///
/// On Linux it listens on rtnetlink with one dedicated thread; elsewhere it builds and does nothing.
public final class NetworkChangeMonitor: Service, Sendable {
    /// What ``add(_:)`` returns: pass it to ``remove(_:)`` to stop the wake-ups.
    public struct Registration: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private let logger: Logger
    private let receiveBuffer: Int
    private let state = Mutex(State())

    private struct State {
        /// Each returns whether to stay registered.
        var wakes: [UInt64: @Sendable () -> Bool] = [:]
        var nextID: UInt64 = 0
        var changes = 0
        var overflows = 0
        var receiveBufferBytes = 0
    }

    /// The receive buffer the monitor asks for at start: 1 MiB, room for thousands of messages of a burst.
    public static let defaultReceiveBuffer = 1 << 20

    /// The largest receive buffer the monitor raises its socket's to after overflows.
    public static let largestReceiveBuffer = 16 << 20

    /// - Parameters:
    ///   - logger: where the monitor says what it saw (changes at debug level, overflows as warnings).
    ///   - receiveBuffer: the rtnetlink socket's receive buffer at start, in bytes (the kernel applies its own minimum,
    ///     about 2 KiB, and at most ``largestReceiveBuffer`` is asked for).
    public init(
        logger: Logger = Logger(label: "network-change-monitor"),
        receiveBuffer: Int = NetworkChangeMonitor.defaultReceiveBuffer
    ) {
        self.logger = logger
        self.receiveBuffer = min(max(receiveBuffer, 1), Self.largestReceiveBuffer)
    }

    /// Calls `wake` on every network change from now on, until ``remove(_:)``.
    @discardableResult
    public func add(_ wake: @escaping @Sendable () -> Void) -> Registration {
        register {
            wake()
            return true
        }
    }

    private func register(_ wake: @escaping @Sendable () -> Bool) -> Registration {
        state.withLock { state in
            state.nextID &+= 1
            state.wakes[state.nextID] = wake
            return Registration(id: state.nextID)
        }
    }

    /// Stops the wake-ups of `registration`: a supervisor that has ended, or that another monitor wakes now. Removing
    /// one that was removed already does nothing. A wake-up in progress on the monitor's thread may still call it once.
    ///
    /// ```swift
    /// let registration = monitor.add(listenerSupervisor)
    /// // ...
    /// monitor.remove(registration)
    /// ```
    public func remove(_ registration: Registration) {
        _ = state.withLock { $0.wakes.removeValue(forKey: registration.id) }
    }

    /// How many wake-up closures are registered now.
    public var registrations: Int {
        state.withLock { $0.wakes.count }
    }

    /// Wakes `supervisor` on every network change from now on, with `spread` (see
    /// `ResourceSupervisor.wake(spread:)`), until ``remove(_:)``; a supervisor that has stopped leaves at the first
    /// change after its stop (the monitor lets go of it then).
    ///
    /// ```swift
    /// monitor.add(listenerSupervisor)  // each change starts it within the next 100 ms
    /// monitor.add(onlySupervisor, spread: .zero)  // the only one in the process: start at once
    /// ```
    @discardableResult
    public func add<Resource>(
        _ supervisor: ResourceSupervisor<Resource>,
        spread: Duration = ResourceSupervisor<Resource>.defaultWakeSpread
    ) -> Registration {
        register {
            if case .stopped = supervisor.state { return false }
            supervisor.wake(spread: spread)
            return true
        }
    }

    /// How many changes woke the registered supervisors so far.
    public var changes: Int {
        state.withLock { $0.changes }
    }

    /// How many times the kernel dropped messages because the monitor fell behind (each counted as a change).
    public var overflows: Int {
        state.withLock { $0.overflows }
    }

    /// The rtnetlink socket's receive buffer as the kernel reports it (twice what was asked for); 0 before `run()`.
    public var receiveBufferBytes: Int {
        state.withLock { $0.receiveBufferBytes }
    }

    /// Listens until cancelled or shut down gracefully.
    ///
    /// - Throws: `ConfigurationError` (from `Supervisor`) when the rtnetlink socket cannot be opened.
    public func run() async throws {
        #if os(Linux)
            let fd = cnetlink_open()
            guard fd >= 0 else {
                throw ConfigurationError(.inconsistent, option: "rtnetlink", "cannot open: errno \(-fd)")
            }
            let size = Int(cnetlink_set_receive_buffer(fd, Int32(receiveBuffer)))
            state.withLock { $0.receiveBufferBytes = size }
            let thread = MonitorThread(fd: fd) { [self] bits, raisedTo in
                self.changed(bits, raisedTo: raisedTo)
            }
            thread.start()
            defer { thread.stop() }
            logger.debug("listening for network changes")
        #endif
        // Until a graceful shutdown (returns) or cancellation (throws, which ends the service just the same).
        try? await gracefulShutdown()
    }

    /// `raisedTo`: the receive buffer after an overflow raised it (the kernel's figure), if one did.
    private func changed(_ bits: Int32, raisedTo: Int?) {
        #if os(Linux)
            let overflowed = bits & Int32(CNETLINK_OVERFLOW) != 0
        #else
            let overflowed = false
        #endif
        let wakes = state.withLock { state -> [(UInt64, @Sendable () -> Bool)] in
            state.changes += 1
            if overflowed { state.overflows += 1 }
            if let raisedTo { state.receiveBufferBytes = raisedTo }
            return Array(state.wakes)
        }
        if overflowed {
            logger.warning(
                "the kernel dropped network-change messages: waking every supervisor",
                metadata: ["receive-buffer": "\(raisedTo.map { "\($0)" } ?? "at its largest")"])
        }
        logger.debug("network changed", metadata: ["kinds": "\(bits)", "supervisors": "\(wakes.count)"])
        let ended = wakes.compactMap { id, wake in wake() ? nil : id }
        if !ended.isEmpty { state.withLock { state in for id in ended { state.wakes[id] = nil } } }
    }
}

#if os(Linux)
    /// The thread that reads rtnetlink: `poll` with a short timeout, so that `stop()` ends it promptly.
    private final class MonitorThread: Sendable {
        private let fd: Int32
        private let onChange: @Sendable (Int32, Int?) -> Void
        /// The read buffer's size at most, after messages larger than it: 1 MiB.
        static let largestMessage = 1 << 20
        private let stopping = Atomic(false)
        private let stopped = Atomic(false)

        init(fd: Int32, onChange: @escaping @Sendable (Int32, Int?) -> Void) {
            self.fd = fd
            self.onChange = onChange
        }

        func start() {
            let box = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let result = pthread_create(
                &thread,
                nil,
                { argument in
                    let monitor = Unmanaged<MonitorThread>.fromOpaque(argument!).takeRetainedValue()
                    monitor.loop()
                    return nil
                },
                box
            )
            if result == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged<MonitorThread>.fromOpaque(box).release()
                close(fd)
                stopped.store(true, ordering: .releasing)
            }
        }

        /// Asks the thread to end and waits (at most about one poll interval) until it has closed the socket.
        func stop() {
            stopping.store(true, ordering: .releasing)
            for _ in 0..<100 where !stopped.load(ordering: .acquiring) { usleep(5_000) }
        }

        private func loop() {
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while !stopping.load(ordering: .acquiring) {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, 50) > 0 else { continue }
                // Drain everything queued, then report once: an address change comes with several messages.
                // Bounded: a socket that never runs dry is reported every 10,000 reads.
                var bits: Int32 = 0
                for _ in 0..<10_000 {
                    // MSG_TRUNC: the length of the whole datagram, even when the buffer held only its beginning.
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_TRUNC)) }
                    // The kernel dropped messages: anything may have changed; the socket goes on delivering.
                    if count < 0, errno == ENOBUFS {
                        bits |= Int32(CNETLINK_OVERFLOW)
                        continue
                    }
                    if count <= 0 { break }
                    if count > buffer.count {
                        // A message larger than the buffer (a link with many names or virtual functions), cut short:
                        // it may be any change; the buffer grows to hold the next one whole.
                        bits |= Int32(CNETLINK_LINK_UP | CNETLINK_ADDRESS_ADDED | CNETLINK_ROUTE_ADDED)
                        buffer = [UInt8](repeating: 0, count: min(count, Self.largestMessage))
                        continue
                    }
                    bits |= buffer.withUnsafeBytes { cnetlink_classify($0.baseAddress, Int32(count)) }
                }
                let raisedTo = bits & Int32(CNETLINK_OVERFLOW) != 0 ? raiseBuffer() : nil
                if bits != 0 { onChange(bits, raisedTo) }
            }
            close(fd)
            stopped.store(true, ordering: .releasing)
        }

        /// Doubles the receive buffer after an overflow, up to the largest; the kernel's figure, or nil at the largest.
        private func raiseBuffer() -> Int? {
            // The kernel doubles what it is asked for: asking for its present figure doubles the buffer.
            let present = Int(cnetlink_receive_buffer(fd))
            guard present > 0, present < NetworkChangeMonitor.largestReceiveBuffer else { return nil }
            return Int(
                cnetlink_set_receive_buffer(fd, Int32(min(present, NetworkChangeMonitor.largestReceiveBuffer / 2))))
        }
    }
#endif
