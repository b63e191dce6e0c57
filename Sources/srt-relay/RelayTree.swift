import Logging
import Metrics
import SRTAdapter
import ServiceLifecycle
import Supervisor

/// The relay as one supervision tree, `srt-relay`, `restForOne`, its children in the order they depend on each
/// other:
///
/// ```
/// srt-relay (rest for one): ready
/// ├─ listener (temporary): running, ready        the SRTServer; its end ends the relay
/// ├─ streams (one for one): ready                 one temporary child per connection, added by the acceptor
/// │  └─ 1 (temporary): running, ready
/// ├─ pushes, pulls (one for one): ready            with --push, --pull: one temporary child per push or pull
/// │  └─ 1 (temporary): running, ready
/// ├─ acceptor (permanent): running, ready          takes each connection, and closes them all when stopped
/// ├─ reporter (transient): running, ready
/// ├─ chaos, disk-space (transient)                 with --chaos, --min-free
/// ├─ metrics (permanent): running, ready           with --metrics-port: restarted with backoff if it fails
/// └─ systemd (transient): running, ready           under systemd
/// ```
///
/// It stops in reverse order: systemd hears STOPPING=1 first, the metrics endpoint closes, the acceptor closes every
/// connection and waits for the recordings' flushes (each connection's child flushes on its own, all at once), and
/// the listener closes last. The listener supervises itself (its policy, `--intensity`, `--give-up`); as a child it
/// is temporary and significant, so its end, for whatever reason, stops the rest, and its failure is what the
/// tree's `run()` throws (exit 1, or 75 past the leaked-multiplexer limit).
enum RelayTree {
    struct Parts {
        let settings: RelaySettings
        let server: SRTServer
        let table: ConnectionTable
        let console: Console
        let metricsServer: MetricsServer?
        let logger: Logger
    }

    /// The tree's name: the root of every path in it.
    static let name = "srt-relay"

    static func make(_ parts: Parts, tree: TreeReference) throws -> SupervisorGroup {
        let settings = parts.settings
        // The listener's own supervisor decides about its restarts; its child ends with the first failure it
        // throws, or when it returns.
        let once = try RestartPolicy(classifier: .always(.giveUp), onCompletion: .finish)
        // The services end only with the tree; one that ends early stays stopped rather than taking the relay down.
        let untilStopped = try RestartPolicy(onCompletion: .finish)
        let pushes =
            settings.access.streams.pushes.isEmpty
            ? nil
            : StreamPushes(
                hubs: settings.access.hubs, streams: settings.access.streams, console: parts.console, tree: tree,
                workerPolicy: once, logger: parts.logger)
        let pulls =
            settings.access.streams.pulls.isEmpty
            ? nil
            : StreamPulls(
                hubs: settings.access.hubs, table: parts.table, streams: settings.access.streams,
                console: parts.console, tree: tree, workerPolicy: once, logger: parts.logger)
        let copier = StreamCopier(
            server: parts.server, destination: settings.destination, table: parts.table, console: parts.console,
            recording: settings.recording, access: settings.access, pushes: pushes, pulls: pulls)
        var children: [GroupChild] = [
            try .service(parts.server, name: "listener", policy: once, restart: .temporary, significant: true),
            try .group(name: "streams", strategy: .oneForOne, children: []),
        ]
        // Before the acceptor, so they stop after it: the pushes end after the publishers they carry, and the
        // acceptor's shutdown closes the pulls' connections with the rest.
        if pushes != nil { children.append(try .group(name: "pushes", strategy: .oneForOne, children: [])) }
        if pulls != nil { children.append(try .group(name: "pulls", strategy: .oneForOne, children: [])) }
        children += [
            try .service(
                StreamAcceptor(
                    server: parts.server, copier: copier, table: parts.table, console: parts.console, tree: tree,
                    workerPolicy: once),
                name: "acceptor"),
            try .service(
                Reporter(
                    server: parts.server, table: parts.table, console: parts.console, interval: settings.statusInterval,
                    leakLimit: settings.leakLimit, hubs: settings.access.hubs),
                name: "reporter", policy: untilStopped, restart: .transient),
        ]
        if settings.chaosPeriod != nil || settings.chaosOnSignal {
            children.append(
                try .service(
                    Chaos(
                        server: parts.server, console: parts.console, period: settings.chaosPeriod,
                        onSignal: settings.chaosOnSignal),
                    name: "chaos", policy: untilStopped, restart: .transient))
        }
        if let space = settings.recording.space {
            children.append(
                try .service(
                    DiskSpaceWatch(space: space, console: parts.console), name: "disk-space", policy: untilStopped,
                    restart: .transient))
        }
        if let configuration = settings.access.configuration {
            children.append(
                try .service(
                    ConfigurationReloader(live: configuration, console: parts.console), name: "configuration",
                    policy: untilStopped, restart: .transient))
        }
        if let metricsServer = parts.metricsServer {
            // A port taken now may be free later: retried on the standard backoff, the relay serving meanwhile.
            children.append(try .service(metricsServer, name: "metrics"))
        }
        if let notifier = SystemdNotifier(server: parts.server) {
            children.append(try .service(notifier, name: "systemd", policy: untilStopped, restart: .transient))
        }
        // Warnings and errors only: a line per connection's start and end would bury the relay's own lines.
        var logger = parts.logger
        logger.logLevel = max(parts.logger.logLevel, .warning)
        return try SupervisorGroup(
            name: name, strategy: .restForOne, children: children, logger: logger,
            // No metrics of its own: a child per connection would leave series in the registry for every
            // connection ever accepted. The listener's supervisor and the relay record theirs.
            metricsFactory: NOOPMetricsHandler.instance)
    }

    /// The error behind the tree's: the listener's, through the tree's and its child's wrappers.
    static func cause(of error: any Error) -> any Error {
        var cause = error
        for _ in 0..<2 {
            guard let wrapper = cause as? SupervisorError,
                wrapper.name == name && wrapper.code == .childFailed || wrapper.name == "\(name)/listener"
            else { break }
            cause = wrapper.lastFailure
        }
        return cause
    }
}
