public import Logging
public import ServiceLifecycle
public import Supervisor

/// A long-lived SRT server: a supervised ``SRTListener`` whose accepted connections arrive on one
/// `AsyncSequence` that survives every restart. A swift-service-lifecycle `Service`.
///
/// ```swift
/// let server = try SRTServer(configuration: SRTListenerConfiguration(host: "0.0.0.0", port: 9000))
/// let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// async let running: Void = group.run()
/// for await connection in server.connections {
///     Task { for try await message in connection.messages { … } }   // ends when the connection is closed
/// }
/// ```
///
/// After a receive-thread death the listener is retired and bound again within milliseconds; the connections that
/// died with it are closed and appear on ``lostConnections``. Connections of other listeners, and of this one when
/// it restarts for any other reason, are left alone.
///
/// Each such death with connections leaves a multiplexer libsrt never frees (``SRTRuntime/leakedMultiplexerCount``).
/// With a ``SRTLeakLimit``, ``run()`` ends with ``SRTError/Code/leakLimitExceeded`` once the process keeps more, so
/// that the application can close its streams and leave for a fresh process:
///
/// ```swift
/// let server = SRTServer(configuration: configuration, leakLimit: try SRTLeakLimit(maxLeakedMultiplexers: 100))
/// ```
public final class SRTServer: Service, Sendable {
    /// The supervisor that keeps the listener up; read its `state` or `events()`.
    public let supervisor: ResourceSupervisor<SRTListener>
    /// How many leaked multiplexers (of the process) end ``run()``.
    public let leakLimit: SRTLeakLimit
    /// Every accepted connection, across restarts; ends when ``run()`` returns. One consumer.
    public let connections: AsyncStream<SRTConnection>
    /// Connections closed because their UDP socket died with the listener, one batch per death.
    public let lostConnections: AsyncStream<[SRTConnection]>

    private let connectionSink: AsyncStream<SRTConnection>.Continuation
    private let lostSink: AsyncStream<[SRTConnection]>.Continuation

    /// The restart policy unless told otherwise: exponential backoff from 50 ms to 10 s with full jitter, stable
    /// after 10 s. Start failures (a port in use, an address not there yet) and deaths restart; bad settings give up.
    public static let defaultPolicy: RestartPolicy = {
        do {
            return try RestartPolicy(
                backoff: Backoff.exponential(initial: .milliseconds(50), multiplier: 2, maximum: .seconds(10))
                    .jitter(.full))
        } catch {
            fatalError("the default SRT policy is valid: \(error)")
        }
    }()

    /// Creates the server; nothing binds until ``run()``.
    public convenience init(
        configuration: SRTListenerConfiguration,
        name: String = "srt-server",
        policy: RestartPolicy = SRTServer.defaultPolicy,
        health: SRTHealthCheck = .standard,
        leakLimit: SRTLeakLimit = .unlimited,
        logger: Logger = Logger(label: "srt.server")
    ) {
        self.init(
            configuration: configuration, name: name, policy: policy, health: health, leakLimit: leakLimit,
            logger: logger, reactor: .shared)
    }

    init(
        configuration: SRTListenerConfiguration, name: String, policy: RestartPolicy, health: SRTHealthCheck,
        leakLimit: SRTLeakLimit = .unlimited, logger: Logger, reactor: SRTReactor
    ) {
        self.leakLimit = leakLimit
        // The gauge's series exists from the start (0 until a death leaks a multiplexer).
        SRTRuntime.publishLeakedMultiplexerGauge()
        let (connections, connectionSink) = AsyncStream.makeStream(of: SRTConnection.self)
        let (lost, lostSink) = AsyncStream.makeStream(of: [SRTConnection].self)
        self.connections = connections
        self.lostConnections = lost
        self.connectionSink = connectionSink
        self.lostSink = lostSink
        let listener = SRTListener(
            configuration: configuration, health: health, logger: logger, reactor: reactor,
            onConnection: { connection in
                // The stream is gone once run() ended: close instead of leaking the socket.
                if case .terminated = connectionSink.yield(connection) { connection.close() }
            },
            onConnectionsLost: { lostSink.yield($0) })
        self.supervisor = ResourceSupervisor(listener, name: name, policy: policy, logger: logger)
    }

    /// Restarts the listener's run (``SRTListener/restart()``): the supervisor goes through a restart while the
    /// listening socket stays open, so callers are accepted throughout (every caller libsrt connects meanwhile arrives
    /// on ``connections`` once the next run starts) and live connections keep flowing.
    public func restartListener() {
        supervisor.resource.restart()
    }

    /// Where the server listens now, or `nil` before the first start.
    public var localAddress: SRTAddress? {
        supervisor.resource.localAddress
    }

    /// Runs until shutdown, a stop decision or giving up (then throws `SupervisorError`), or until the process keeps
    /// more leaked multiplexers than ``leakLimit`` allows (then throws ``SRTError`` with
    /// ``SRTError/Code/leakLimitExceeded``, after the listener was stopped); ends both streams.
    ///
    /// Returns once the listener's close has run on the adapter's control thread (closes run there, after the
    /// call that asked for them): its descriptor and libsrt socket are released by then, as far as libsrt releases
    /// them at once.
    public func run() async throws {
        defer {
            connectionSink.finish()
            lostSink.finish()
        }
        do {
            try await superviseWithinLeakLimit()
        } catch {
            await supervisor.resource.closeKeptListener()
            await SRTControlThread.shared.idle()
            throw error
        }
        await supervisor.resource.closeKeptListener()
        await SRTControlThread.shared.idle()
    }

    /// The supervisor's run, ended with ``SRTError/Code/leakLimitExceeded`` once the process keeps more leaked
    /// multiplexers than ``leakLimit`` allows.
    private func superviseWithinLeakLimit() async throws {
        guard leakLimit.maxLeakedMultiplexers != nil else {
            try await supervisor.run()
            return
        }
        let (leakLimit, supervisor) = (self.leakLimit, self.supervisor)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await supervisor.run() }
            group.addTask {
                // Ends only by throwing, or when the run is over and this task is cancelled.
                for await count in SRTRuntime.leakedMultiplexerCounts() where leakLimit.isExceeded(by: count) {
                    throw SRTError(
                        code: .leakLimitExceeded, operation: .leakLimit,
                        message: "libsrt keeps \(count) leaked multiplexers, more than the "
                            + "\(leakLimit.maxLeakedMultiplexers ?? 0) allowed")
                }
            }
            // The first to end ends the other: the supervisor's run (then the watch), or the watch (then the run,
            // which stops the listener when cancelled).
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
