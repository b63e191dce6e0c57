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
/// - `stop(_:)` closes the connection; whoever still holds it sees ``SRTError/Code/closedLocally``.
public struct SRTConnector: Restartable {
    public typealias Instance = SRTConnection

    /// What every start connects with.
    public let configuration: SRTCallerConfiguration
    private let shared: Shared
    private let logger: Logger

    /// The mutable part, shared by copies of the struct: the connection up now.
    final class Shared: Sendable {
        let current = Mutex<SRTConnection?>(nil)
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
    ///   - logger: where the connector's own lines go.
    ///   - onConnection: receives every new connection, once, before the connector starts watching it;
    ///     called from the supervisor's task, so it must not block.
    public init(
        configuration: SRTCallerConfiguration,
        logger: Logger = Logger(label: "srt.caller"),
        onConnection: @escaping @Sendable (SRTConnection) -> Void
    ) {
        self.init(configuration: configuration, logger: logger, reactor: .shared, onConnection: onConnection)
    }

    init(
        configuration: SRTCallerConfiguration,
        logger: Logger,
        reactor: SRTReactor,
        onConnection: @escaping @Sendable (SRTConnection) -> Void
    ) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "srt.caller"] = "\(configuration.address)"
        self.logger = logger
        self.shared = Shared(onConnection: onConnection, reactor: reactor)
    }

    /// The connection up now, or `nil` while connecting or backing off.
    public var connection: SRTConnection? {
        shared.current.withLock { $0 }
    }

    public func start() async throws -> SRTConnection {
        let connection = try await SRTConnection.connect(configuration, reactor: shared.reactor)
        shared.current.withLock { $0 = connection }
        logger.info("connected", metadata: ["srt.connection": "\(connection)"])
        return connection
    }

    public func run(_ connection: SRTConnection) async throws {
        shared.onConnection(connection)
        let end = try await connection.ended(peer: configuration.address)
        logger.warning("connection ended", metadata: ["error": "\(end)"])
        throw end
    }

    public func stop(_ connection: SRTConnection) async {
        shared.current.withLock { current in
            if current === connection { current = nil }
        }
        connection.close()
    }
}
