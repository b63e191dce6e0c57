import Dispatch
import Logging
import Metrics
import Prometheus
import SRTAdapter
import ServiceLifecycle
import Supervisor
import UnixSignals

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Wires the relay together and runs it until SIGINT/SIGTERM: its supervision tree (``RelayTree``: the
/// ``SRTServer``, a child per connection, the ``Reporter``, ``Chaos`` when asked, the metrics endpoint, the
/// ``SystemdNotifier`` under systemd) and a shutdown deadline, in one `ServiceGroup`.
struct RelayServiceGroup {
    let settings: RelaySettings

    /// Graceful shutdown escalates to cancellation after this long…
    static let gracefulShutdownLimit = Duration.milliseconds(1200)
    /// …and the process leaves on its own this long after the signal, whatever still runs (exit 0 within 2 s).
    static let shutdownDeadline = Duration.milliseconds(1900)

    /// `EX_CANTCREAT` from sysexits.h: the output directory cannot be created or written.
    static let cannotCreateExitCode: Int32 = 73
    /// `EX_TEMPFAIL` from sysexits.h: libsrt keeps more dead multiplexers than `--max-leaked-multiplexers`; every
    /// recording was closed, and a fresh process (systemd's `Restart=on-failure`, Kubernetes) starts clean.
    static let leakLimitExitCode: Int32 = 75

    /// The permission bits of the file at `path`, or `nil` when it cannot be read.
    static func permissions(of path: String) -> mode_t? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return status.st_mode & 0o777
    }

    /// Runs to the end; returns the exit status (0 after a requested shutdown, 1 when the listener gave up, 73 when
    /// the recordings directory is not writable, 75 past the leaked-multiplexer limit).
    func run() async -> Int32 {
        // Checked before listening: a publisher must not be accepted only to find nowhere to write.
        if case .record(let directory) = settings.destination {
            do {
                try FileRecorder.makeDirectories(directory)
                guard access(directory, W_OK) == 0 else {
                    throw SinkError(operation: "write to \(directory)", errno: errno)
                }
            } catch {
                Console.usageError("--output: \(error)")
                return Self.cannotCreateExitCode
            }
        }
        if case .record = settings.destination {
            // The recordings' threads exist before listening, like every other thread and descriptor of the relay.
            _ = RecordingIO.pool
        }
        // Measured before listening: while space is low, the first publisher is refused too.
        await settings.recording.space?.check()
        let console = Console(json: settings.json)
        var logger = Logger(
            label: "srt-relay", factory: { StreamLogHandler(label: $0, stream: EscapedStandardError()) })
        logger.logLevel = settings.logLevel
        SRTRuntime.start(logger: logger, logLevel: max(settings.logLevel, .warning))
        // Before the server exists: its supervisor takes the metrics factory when it is created.
        let registry = PrometheusCollectorRegistry()
        if settings.metrics != nil { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }

        let server = SRTServer(
            configuration: settings.listener, name: "srt-relay", policy: settings.policy,
            leakLimit: settings.leakLimit, logger: logger)
        let table = ConnectionTable()
        let tree = TreeReference()
        var metricsServer: MetricsServer?
        if let metrics = settings.metrics {
            metricsServer = MetricsServer(
                host: metrics.host, port: metrics.port, registry: registry, server: server,
                leakLimit: settings.leakLimit, console: console, space: settings.recording.space, tree: tree,
                api: RelayAPI(table: table, hubs: settings.access.hubs))
        }
        let relay: SupervisorGroup
        do {
            relay = try RelayTree.make(
                RelayTree.Parts(
                    settings: settings, server: server, table: table, console: console, metricsServer: metricsServer,
                    logger: logger),
                tree: tree)
        } catch {
            console.emit("exit", "srt-relay: \(error)", ["status": .int(1), "error": .string("\(error)")])
            return 1
        }
        tree.group = relay
        // The tree stops its children in reverse order (RelayTree); the deadline, last here, hears the shutdown
        // first. The tree's end, for whatever reason, ends the process: every recording is closed by then.
        let services = [
            ServiceGroupConfiguration.ServiceConfiguration(
                service: relay, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
            ServiceGroupConfiguration.ServiceConfiguration(
                service: ShutdownDeadline(limit: Self.shutdownDeadline, console: console)),
        ]
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = Self.gracefulShutdownLimit
        console.emit(
            "started", "srt-relay: \(settings.summary)",
            ["listener": .string("\(settings.listener)"), "output": .string(settings.destinationDescription)])
        if settings.isOpenToAnyone {
            let address = "\(settings.listener.address)"
            console.emit(
                "warning",
                "warning: listening on \(address) with neither a passphrase nor an allow list: anyone who can reach "
                    + "this port can publish (--passphrase-env, --passphrase-file, --allow)",
                ["warning": .string("open-listener"), "address": .string(address)])
        }
        if let path = settings.access.configuration?.path, let mode = Self.permissions(of: path), mode & 0o077 != 0 {
            console.emit(
                "warning",
                "warning: \(path) holds passphrases and other users may read it (mode \(String(mode, radix: 8))); "
                    + "chmod 600 it",
                ["warning": .string("config-readable"), "path": .string(path)])
        }
        let status: Int32
        do {
            try await ServiceGroup(configuration: configuration).run()
            console.emit("exit", "srt-relay: stopped; every recording closed", ["status": .int(0)])
            status = 0
        } catch  where (RelayTree.cause(of: error) as? SRTError)?.code == .leakLimitExceeded {
            let count = SRTRuntime.leakedMultiplexerCount
            console.emit(
                "exit",
                "srt-relay: libsrt keeps \(count) dead multiplexers, more than --max-leaked-multiplexers "
                    + "\(settings.leakLimit.maxLeakedMultiplexers ?? 0); every recording closed; exiting with "
                    + "\(Self.leakLimitExitCode) for a fresh process",
                [
                    "status": .int(Int64(Self.leakLimitExitCode)), "error": .string("\(RelayTree.cause(of: error))"),
                    "leaked_multiplexers": .int(Int64(count)),
                ])
            status = Self.leakLimitExitCode
        } catch {
            let cause = RelayTree.cause(of: error)
            console.emit("exit", "srt-relay: \(cause)", ["status": .int(1), "error": .string("\(cause)")])
            status = 1
        }
        // The last lines get a moment to reach a slow reader; one that reads nothing does not hold the exit.
        _ = await console.output.waitUntilWritten(within: Self.outputFlushLimit)
        _ = await OutputQueue.standardError.waitUntilWritten(within: Self.outputFlushLimit)
        return status
    }

    /// How long the exit waits for each output's queued lines to be written.
    static let outputFlushLimit = Duration.milliseconds(100)
}
