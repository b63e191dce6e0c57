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
/// On Linux it listens on rtnetlink with one dedicated thread; elsewhere it builds and does nothing.
public final class NetworkChangeMonitor: Service, Sendable {
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var wakes: [@Sendable () -> Void] = []
        var changes = 0
        var stopping = false
    }

    public init(logger: Logger = Logger(label: "network-change-monitor")) {
        self.logger = logger
    }

    /// Calls `wake` on every network change from now on.
    public func add(_ wake: @escaping @Sendable () -> Void) {
        state.withLock { $0.wakes.append(wake) }
    }

    /// Wakes `supervisor` on every network change from now on, with `spread` (see
    /// `ResourceSupervisor.wake(spread:)`).
    ///
    /// ```swift
    /// monitor.add(listenerSupervisor)  // each change starts it within the next 100 ms
    /// monitor.add(onlySupervisor, spread: .zero)  // the only one in the process: start at once
    /// ```
    public func add<Resource>(
        _ supervisor: ResourceSupervisor<Resource>,
        spread: Duration = ResourceSupervisor<Resource>.defaultWakeSpread
    ) {
        add { supervisor.wake(spread: spread) }
    }

    /// How many changes woke the registered supervisors so far.
    public var changes: Int {
        state.withLock { $0.changes }
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
            let thread = MonitorThread(fd: fd) { [self] bits in self.changed(bits) }
            thread.start()
            defer { thread.stop() }
            logger.debug("listening for network changes")
        #endif
        // Until a graceful shutdown (returns) or cancellation (throws, which ends the service just the same).
        try? await gracefulShutdown()
    }

    private func changed(_ bits: Int32) {
        let wakes = state.withLock { state -> [@Sendable () -> Void] in
            state.changes += 1
            return state.wakes
        }
        logger.debug("network changed", metadata: ["kinds": "\(bits)", "supervisors": "\(wakes.count)"])
        for wake in wakes { wake() }
    }
}

#if os(Linux)
    /// The thread that reads rtnetlink: `poll` with a short timeout, so that `stop()` ends it promptly.
    private final class MonitorThread: Sendable {
        private let fd: Int32
        private let onChange: @Sendable (Int32) -> Void
        private let stopping = Atomic(false)
        private let stopped = Atomic(false)

        init(fd: Int32, onChange: @escaping @Sendable (Int32) -> Void) {
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
                var bits: Int32 = 0
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { break }
                    bits |= buffer.withUnsafeBytes { cnetlink_classify($0.baseAddress, Int32(count)) }
                }
                if bits != 0 { onChange(bits) }
            }
            close(fd)
            stopped.store(true, ordering: .releasing)
        }
    }
#endif
