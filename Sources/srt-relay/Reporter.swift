import SRTAdapter
import ServiceLifecycle
import Supervisor
import Synchronization

/// Prints the listener's life as lines (listening, restart with the reason and the next delay, degraded, stopped)
/// and, every `interval`, a status line: state, open connections, total bitrate, restarts.
///
/// Subscribes to the supervisor's events when created, so that it misses nothing of the run that follows.
struct Reporter: Service {
    let server: SRTServer
    let table: ConnectionTable
    let console: Console
    let interval: Duration?
    /// Shown beside the count of leaked multiplexers.
    let leakLimit: SRTLeakLimit
    /// The streams, summed up in each status line.
    let hubs: StreamHubs
    private let events: AsyncStream<SupervisorEvent>

    /// The most streams a status line names; the rest are counted.
    static let streamsShown = 5

    init(
        server: SRTServer, table: ConnectionTable, console: Console, interval: Duration?, leakLimit: SRTLeakLimit,
        hubs: StreamHubs = StreamHubs()
    ) {
        self.server = server
        self.table = table
        self.console = console
        self.interval = interval
        self.leakLimit = leakLimit
        self.hubs = hubs
        self.events = server.supervisor.events()
    }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await report() }
            if let interval {
                group.addTask { await status(every: interval) }
            }
            // The events end with the supervisor; the status lines stop with them.
            await group.next()
            group.cancelAll()
        }
        // Ending before its turn in the group's shutdown would fail the group.
        try? await gracefulShutdown()
    }

    /// One line per supervisor event that matters to people; ends when the supervisor stopped.
    private func report() async {
        var lastFailure: SupervisorFailure?
        for await event in events {
            switch event {
            case .starting, .waitingForBudget:
                // The relay shares no restart budget; a restart's wait is in its `backingOff` line.
                break
            case .ready(let attempt):
                let address = server.localAddress.map { "\($0)" } ?? "?"
                console.emit(
                    "listening", "listening on \(address)" + (attempt > 1 ? " (attempt \(attempt))" : ""),
                    ["address": .string(address), "attempt": .int(Int64(attempt))])
            case .failed(let failure):
                lastFailure = failure
                if failure.decision == .giveUp {
                    console.emit(
                        "failed", "giving up: \(Self.reason(failure.error))", ["error": .string("\(failure.error)")])
                }
            case .backingOff(let delay, _, let attempt):
                let count = table.restarts.add(1, ordering: .relaxed).newValue
                let reason = lastFailure.map { Self.reason($0.error) } ?? "unknown"
                let phase = lastFailure.map { $0.phase == .start ? "start failed" : "listener died" } ?? "failed"
                console.emit(
                    "restart",
                    "restart #\(count): \(phase): \(reason); next attempt (#\(attempt)) in \(Units.duration(delay))",
                    [
                        "restart": .int(Int64(count)), "phase": .string(phase), "reason": .string(reason),
                        "delay_ms": .double((Units.roundedSeconds(delay) * 1000).rounded()),
                        "attempt": .int(Int64(attempt)),
                    ])
            case .degraded(let probeInterval):
                console.emit(
                    "degraded", "degraded: too many restarts; probing every \(Units.duration(probeInterval))",
                    ["probe_interval_ms": .double((Units.roundedSeconds(probeInterval) * 1000).rounded())])
            case .recovered:
                console.emit("recovered", "recovered: the listener has been up long enough to leave degraded", [:])
            case .stopTimedOut(let timeout):
                console.emit(
                    "stop_timed_out", "listener's stop took longer than \(Units.duration(timeout)); moving on",
                    ["timeout_ms": .double((Units.roundedSeconds(timeout) * 1000).rounded())])
            case .stopped(let reason):
                console.emit("stopped", "listener stopped: \(reason)", ["reason": .string("\(reason)")])
            }
        }
    }

    /// A status line every `interval`, with the bitrate over that interval.
    private func status(every interval: Duration) async {
        var lastBytes = table.totalBytes.load(ordering: .relaxed)
        var lastTime = ContinuousClock.now
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let bytes = table.totalBytes.load(ordering: .relaxed)
            let now = ContinuousClock.now
            let bitrate = Units.bitsPerSecond(bytes - lastBytes, over: now - lastTime)
            (lastBytes, lastTime) = (bytes, now)
            let state = server.supervisor.state.label
            let open = table.count
            let restarts = table.restarts.load(ordering: .relaxed)
            // Lines nobody read (a full pipe): said here too, for a reader that comes back.
            let dropped = console.droppedLines
            // Dead multiplexers libsrt keeps for good: shown once there is one, with the limit that ends the run.
            let leaked = SRTRuntime.leakedMultiplexerCount
            let failures = table.outputFailures.load(ordering: .relaxed)
            let streams = hubs.all
            let readers = streams.reduce(0) { $0 + $1.readerCount }
            let links = streams.flatMap(\.links)
            let pushes = links.filter { $0.kind == .push }
            let pulls = links.filter { $0.kind == .pull }
            console.emit(
                "status",
                "status: \(state), \(open) connection\(open == 1 ? "" : "s"), \(Units.bitrate(bitrate)), "
                    + "\(restarts) restart\(restarts == 1 ? "" : "s"), \(Units.bytes(bytes)) received"
                    + (dropped > 0 ? ", \(dropped) output line\(dropped == 1 ? "" : "s") dropped" : "")
                    + (failures > 0 ? ", \(failures) output failure\(failures == 1 ? "" : "s")" : "")
                    + (leaked > 0 ? ", \(Self.leaked(leaked, limit: leakLimit))" : "")
                    + Self.links(pushes, "push", "pushes") + Self.links(pulls, "pull", "pulls")
                    + Self.summary(of: streams, at: now),
                [
                    "state": .string(state), "connections": .int(Int64(open)),
                    "bitrate_bps": .double(bitrate.rounded()),
                    "restarts": .int(Int64(restarts)), "bytes": .int(Int64(bytes)),
                    "dropped_lines": .int(Int64(dropped)), "output_failures": .int(Int64(failures)),
                    "write_retries": .int(Int64(table.writeRetries.load(ordering: .relaxed))),
                    "leaked_multiplexers": .int(Int64(leaked)), "streams": .int(Int64(streams.count)),
                    "publishers": .int(Int64(streams.filter { $0.publisher != nil }.count)),
                    "readers": .int(Int64(readers)),
                    "pushes": .int(Int64(pushes.count)),
                    "pushes_connected": .int(Int64(pushes.filter(\.isConnected).count)),
                    "pulls": .int(Int64(pulls.count)),
                    "pulls_connected": .int(Int64(pulls.filter(\.isConnected).count)),
                ])
        }
    }

    /// "; cam1 8.0 Mbit/s to 3 readers, cam2 waiting for a publisher (2 readers)": the first streams by name, and
    /// how many more.
    static func summary(of streams: [StreamHub], at now: ContinuousClock.Instant) -> String {
        guard !streams.isEmpty else { return "" }
        let shown = streams.prefix(streamsShown).map { hub in
            let readers = hub.readerCount
            let name = hub.name.isEmpty ? "(no stream id)" : hub.name
            let audience = "\(readers) reader\(readers == 1 ? "" : "s")"
            guard hub.publisher != nil else { return "\(name) waiting for a publisher (\(audience))" }
            return "\(name) \(Units.bitrate(hub.bitrate(at: now))) to \(audience)"
        }
        let more = streams.count > streamsShown ? ", \(streams.count - streamsShown) more" : ""
        return "; " + shown.joined(separator: ", ") + more
    }

    /// ", 2 pushes (1 connected)": none when there are none.
    static func links(_ links: [ChainLink], _ one: String, _ many: String) -> String {
        guard !links.isEmpty else { return "" }
        return ", \(links.count) \(links.count == 1 ? one : many) (\(links.filter(\.isConnected).count) connected)"
    }

    /// "3 leaked multiplexers (exit past 100)": the count of dead multiplexers libsrt keeps, and the limit.
    static func leaked(_ count: Int, limit: SRTLeakLimit) -> String {
        "\(count) leaked multiplexer\(count == 1 ? "" : "s")"
            + (limit.maxLeakedMultiplexers.map { " (exit past \($0))" } ?? "")
    }

    /// The error without the library's repetition: an SRT error's message, or the description.
    static func reason(_ error: any Error) -> String {
        if let error = error as? SRTError, error.code == .receiveThreadDied { return error.message }
        return "\(error)"
    }
}
