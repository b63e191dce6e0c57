public import Logging
public import ServiceLifecycle
public import Supervisor

/// A long-lived outgoing SRT connection: a supervised ``SRTConnector`` that connects, hands each new connection to
/// the application on one `AsyncSequence` that survives every reconnect, and reconnects with backoff and jitter
/// when the connection breaks. A swift-service-lifecycle `Service`.
///
/// ```swift
/// let caller = SRTCaller(
///     configuration: try SRTCallerConfiguration(host: "203.0.113.7", port: 9000, streamID: "publish/cam1"))
/// let group = ServiceGroup(services: [caller], gracefulShutdownSignals: [.sigterm], logger: logger)
/// async let running: Void = group.run()
/// for await connection in caller.connections {       // one per (re)connect
///     do {
///         for try await frame in encoder.frames { try await connection.send(frame) }
///     } catch {
///         // The connection broke: the caller is already reconnecting; the next one arrives above.
///     }
/// }
/// ```
///
/// - Connect failures are classified by ``SRTConnector/classifier``: nobody answering (1001) and timeouts back off
///   and try again; a wrong passphrase or a stream id the listener forbids makes ``run()`` throw
///   `SupervisorError` with code `.fatal`, the ``SRTError`` as its `lastFailure`.
/// - A connection that breaks (the peer closed it, its listener restarted, or it went silent for libsrt's ~5 s
///   peer-idle timeout) ends the run: the caller backs off and connects again. So does a connection whose own UDP
///   receive thread died (it would stay `CONNECTED` and deaf for good): each caller checks itself after every
///   receive-thread death in the process (``SRTCallerHealthCheck``) and reconnects at once on a fresh UDP socket.
///   Closing the current connection yourself asks for a fresh one the same way; to stop, cancel ``run()`` or shut the
///   group down.
/// - Jitter is on by default (``defaultBackoff``), so that many callers dropped at once by one restarted listener
///   come back spread over the delay instead of in lockstep.
public final class SRTCaller: Service, Sendable {
    /// The supervisor that keeps the connection up; read its `state` or `events()`.
    public let supervisor: ResourceSupervisor<SRTConnector>
    /// Every new connection, across reconnects; ends when ``run()`` returns. One consumer. Only the newest
    /// undelivered connection is kept: one that broke before the application took it is dropped (it is closed
    /// already).
    public let connections: AsyncStream<SRTConnection>

    private let connectionSink: AsyncStream<SRTConnection>.Continuation

    /// The caller's backoff: exponential from 200 ms, ×2, at most 15 s, full jitter.
    ///
    /// Full jitter makes the first reconnect after a break `U(0, 200 ms)`: a thousand callers dropped by one
    /// listener restart arrive at about five per millisecond instead of all at once, and one caller alone is back
    /// in 100 ms on average. Each failed attempt doubles the window (0.4 s, 0.8 s, … 15 s).
    public static let defaultBackoff: Backoff = {
        do {
            return try Backoff.exponential(initial: .milliseconds(200), multiplier: 2, maximum: .seconds(15))
                .jitter(.full)
        } catch {
            fatalError("the default SRT caller backoff is valid: \(error)")
        }
    }()

    /// The restart policy unless told otherwise: ``defaultBackoff``, ``SRTConnector/classifier``, stable after
    /// 10 s, no intensity limit (a caller keeps trying for as long as the listener is away). A policy of your own
    /// should keep `classifier: SRTConnector.classifier`, or a wrong passphrase is retried forever.
    public static let defaultPolicy: RestartPolicy = {
        do {
            return try RestartPolicy(backoff: defaultBackoff, classifier: SRTConnector.classifier)
        } catch {
            fatalError("the default SRT caller policy is valid: \(error)")
        }
    }()

    /// Creates the caller; nothing connects until ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: where and how to connect.
    ///   - name: identifies the supervisor in logs, metrics and errors.
    ///   - policy: backoff, classification, intensity; see ``defaultPolicy``.
    ///   - health: how each connection checks that its receive thread lives; see ``SRTCallerHealthCheck``.
    ///   - generator: makes the random number generator of the run (jitter); pass a seeded one to replay delays.
    ///   - logger: where connects, breaks and the supervisor's events are logged.
    public convenience init(
        configuration: SRTCallerConfiguration,
        name: String = "srt-caller",
        policy: RestartPolicy = SRTCaller.defaultPolicy,
        health: SRTCallerHealthCheck = .standard,
        generator: @escaping @Sendable () -> any RandomNumberGenerator = { SystemRandomNumberGenerator() },
        logger: Logger = Logger(label: "srt.caller")
    ) {
        self.init(
            configuration: configuration, name: name, policy: policy, health: health, generator: generator,
            logger: logger, reactor: .shared)
    }

    init(
        configuration: SRTCallerConfiguration, name: String, policy: RestartPolicy,
        health: SRTCallerHealthCheck = .standard, generator: @escaping @Sendable () -> any RandomNumberGenerator,
        logger: Logger, reactor: SRTReactor
    ) {
        let (connections, connectionSink) = AsyncStream.makeStream(
            of: SRTConnection.self, bufferingPolicy: .bufferingNewest(1))
        self.connections = connections
        self.connectionSink = connectionSink
        let connector = SRTConnector(
            configuration: configuration, health: health, logger: logger, reactor: reactor,
            onConnection: { connection in
                switch connectionSink.yield(connection) {
                case .terminated: connection.close()  // nobody will ever take it
                case .dropped(let older): older.close()  // superseded before it was taken
                default: break
                }
            })
        self.supervisor = ResourceSupervisor(
            connector, name: name, policy: policy, generator: generator, logger: logger)
    }

    /// The connection up now, or `nil` while connecting or backing off.
    public var connection: SRTConnection? {
        supervisor.resource.connection
    }

    /// Runs until shutdown (returns), or until a fatal failure or an exhausted budget (throws `SupervisorError`);
    /// ends ``connections``.
    public func run() async throws {
        defer { connectionSink.finish() }
        try await supervisor.run()
    }
}
