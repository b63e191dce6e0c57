import CSRT
public import Logging
public import Supervisor
import Synchronization

/// An outgoing SRT connection as a `Restartable`: a `ResourceSupervisor` keeps it connected through a listener
/// that is down, restarting, or that dropped it. ``SRTCaller`` wraps one; use this type directly to put it in your
/// own supervisor.
///
/// ```swift
/// let connector = SRTConnector(
///     configuration: try SRTCallerConfiguration(host: "127.0.0.1", port: 9000, streamID: "publish/cam1"),
///     onConnection: { connection in Task { try await publish(to: connection) } })
/// let supervisor = ResourceSupervisor(
///     connector, name: "srt-uplink",
///     policy: try RestartPolicy(backoff: SRTCaller.defaultBackoff, classifier: SRTConnector.classifier))
/// try await supervisor.run()
/// ```
///
/// - `start()` connects (``SRTConnection/connect(_:)``): a failure is a start failure, classified by
///   ``SRTConnector/classifier`` (nobody answering restarts, a wrong passphrase gives up).
/// - `run(_:)` hands the connection to `onConnection`, then waits, without reading from it, until it ends: it
///   throws ``SRTError/Code/connectionLost`` when the peer broke it or went silent, and
///   ``SRTError/Code/closedLocally`` when the application closed it (a way to ask for a fresh connection). It never
///   returns normally.
/// - Meanwhile it checks that its own UDP receive thread lives (``SRTCallerHealthCheck``): after every death signal
///   of the process, and with a look at the socket every second. A deaf connection ends the run with
///   ``SRTError/Code/receiveThreadDied``, which restarts at once (`FailureDecision.restartNow`).
/// - `stop(_:)` closes the connection; whoever still holds it sees ``SRTError/Code/closedLocally``. A deaf
///   connection's UDP socket is retired too (/dev/null put over it: the next connect binds a fresh one).
public struct SRTConnector: Restartable {
    public typealias Instance = SRTConnection

    /// What every start connects with.
    public let configuration: SRTCallerConfiguration
    /// How the connection checks that its receive thread lives.
    public let health: SRTCallerHealthCheck
    private let shared: Shared
    private let logger: Logger

    /// The mutable part, shared by copies of the struct: the connection up now, and the receive-thread deaths the
    /// process had seen when it connected.
    final class Shared: Sendable {
        let current = Mutex<SRTConnection?>(nil)
        let deathsAtConnect = Mutex<Int>(0)
        /// The connection judged deaf, retired when stopped.
        let deaf = Mutex<SRTConnection?>(nil)
        /// Watches that found the receive thread alive (or nothing to tell); tests wait on it.
        let watchesPassed = Atomic<Int>(0)
        let onConnection: @Sendable (SRTConnection) -> Void
        let reactor: SRTReactor

        init(onConnection: @escaping @Sendable (SRTConnection) -> Void, reactor: SRTReactor) {
            self.onConnection = onConnection
            self.reactor = reactor
        }
    }

    /// Creates the resource; nothing connects until the supervisor calls `start()`.
    ///
    /// - Parameters:
    ///   - configuration: where to connect and how; validated already.
    ///   - health: how the connection checks that its receive thread lives.
    ///   - logger: where the connector's own lines go.
    ///   - onConnection: receives every new connection, once, before the connector starts watching it;
    ///     called from the supervisor's task, so it must not block.
    public init(
        configuration: SRTCallerConfiguration,
        health: SRTCallerHealthCheck = .standard,
        logger: Logger = Logger(label: "srt.caller"),
        onConnection: @escaping @Sendable (SRTConnection) -> Void
    ) {
        self.init(
            configuration: configuration, health: health, logger: logger, reactor: .shared, onConnection: onConnection)
    }

    init(
        configuration: SRTCallerConfiguration,
        health: SRTCallerHealthCheck = .standard,
        logger: Logger,
        reactor: SRTReactor,
        onConnection: @escaping @Sendable (SRTConnection) -> Void
    ) {
        self.configuration = configuration
        self.health = health
        var logger = logger
        logger[metadataKey: "srt.caller"] = "\(configuration.address)"
        self.logger = logger
        self.shared = Shared(onConnection: onConnection, reactor: reactor)
    }

    /// The connection up now, or `nil` while connecting or backing off.
    public var connection: SRTConnection? {
        shared.current.withLock { $0 }
    }

    /// How many watches found the receive thread alive, since the connector was made (tests wait on it).
    var watchesPassed: Int {
        shared.watchesPassed.load(ordering: .acquiring)
    }

    public func start() async throws -> SRTConnection {
        // Read before connecting: a death during the connect is then checked at the start of the run.
        let deaths = SRTRuntime.receiveThreadDeathCount
        let connection = try await SRTConnection.connect(configuration, reactor: shared.reactor)
        shared.current.withLock { $0 = connection }
        shared.deathsAtConnect.withLock { $0 = deaths }
        logger.info("connected", metadata: ["srt.connection": "\(connection)"])
        if connection.udpDescriptor == nil {
            // Its UDP socket is libsrt's: only counters that move can show it alive, nothing shows it deaf.
            logger.info("bound to a fixed local port: a dead receive thread of that port is not detected")
        }
        return connection
    }

    public func run(_ connection: SRTConnection) async throws {
        // Subscribed before anything else: a death from now on is seen.
        let deaths = SRTRuntime.receiveThreadDeaths()
        shared.onConnection(connection)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let end = try await connection.ended(peer: configuration.address)
                logger.warning("connection ended", metadata: ["error": "\(end)"])
                throw end
            }
            group.addTask {
                if SRTRuntime.receiveThreadDeathCount > shared.deathsAtConnect.withLock({ $0 }) {
                    try await confirmAlive(connection, after: "a receive thread died while connecting")
                }
                // A burst of deaths costs at most two watches: one that began after a death covers it.
                var watchedSince: ContinuousClock.Instant?
                for await death in deaths {
                    if let watchedSince, death.instant < watchedSince { continue }
                    watchedSince = .now
                    try await confirmAlive(connection, after: "receive thread death #\(death.sequenceNumber)")
                }
            }
            group.addTask {
                // Without a signal (its log line can be missed): a look at the UDP socket, no libsrt call.
                var before: ReceivePathWatch.Look?
                while true {
                    try await Task.sleep(for: health.checkInterval)
                    let look = await ReceivePathWatch.Look.take(connection, counters: false)
                    if ReceivePathWatch.callsForWatch(before, look) {
                        try await confirmAlive(connection, after: "datagrams waiting at two looks in a row")
                        before = nil
                    } else {
                        before = look
                    }
                }
            }
            // The first child to end (with an error: they never return) ends the run.
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    public func stop(_ connection: SRTConnection) async {
        shared.current.withLock { current in
            if current === connection { current = nil }
        }
        connection.close()
        let deaf = shared.deaf.withLock { deaf in
            defer { if deaf === connection { deaf = nil } }
            return deaf === connection
        }
        guard deaf, let descriptor = connection.udpDescriptor else { return }
        // On the control thread, after the close queued above: libsrt sends the SHUTDOWN that tells the peer as it
        // closes, which /dev/null already over the socket would swallow (the peer would wait out its idle timeout).
        // Only while the number still names the caller's own socket (fault A): after fault B it names another file,
        // which is not ours to overwrite. Only after a death: a dead multiplexer is never freed, so libsrt never
        // closes this number itself. The /dev/null opened at start-up: the process may be out of descriptors by now.
        let retired = await SRTControlThread.shared.run { () -> Bool in
            guard connection.udpDescriptorIsOwn == true else { return false }
            return csrt_retire_fd_using(descriptor, SRTRuntime.spareNullDescriptor) == 0
        }
        if retired { logger.error("retired the deaf UDP socket of \(connection)") }
    }

    /// Watches the connection for up to ``SRTCallerHealthCheck/deathWatch``; returns when its receive thread shows
    /// it reads (or nothing arrived to tell), throws ``SRTError/Code/receiveThreadDied`` when it is deaf.
    private func confirmAlive(_ connection: SRTConnection, after trigger: String) async throws {
        let started = ContinuousClock.now
        var watch = ReceivePathWatch(unreadLimit: health.unreadLimit)
        // Bounded by the deadline; a look every lookInterval.
        while true {
            let look = await ReceivePathWatch.Look.take(connection)
            switch watch.add(look) {
            case .reading:
                shared.watchesPassed.add(1, ordering: .releasing)
                logger.debug("\(trigger): the receive thread reads (\(look.at - started))")
                return
            case .deaf(let evidence):
                shared.deaf.withLock { $0 = connection }
                logger.error("\(trigger): this caller's receive thread is dead: \(evidence)")
                throw SRTError(
                    code: .receiveThreadDied, operation: .watch,
                    message: "the receive thread of \(connection) died (\(evidence)): the connection is deaf")
            case .undecided:
                guard look.at - started < health.deathWatch else {
                    shared.watchesPassed.add(1, ordering: .releasing)
                    logger.debug("\(trigger): nothing arrived within \(health.deathWatch); taken as alive")
                    return
                }
                try await Task.sleep(for: health.lookInterval)
            }
        }
    }
}
