// How long a deliberate restart keeps new callers waiting: an SRTServer on loopback restarted with
// `restartListener()`, with a new caller started at each call, with and without a live stream on the port. For each
// restart it records, from the call: when libsrt connected the new caller (the connection's own clock), when the
// server handed it out on `connections`, and when the next run was ready. Two kinds of caller, one after the other:
// an srt-live-transmit process (an independent peer; its figure includes starting the process) and a caller in this
// process (`SRTConnection.connect`). Usage: srt-restart [RESTARTS]
import Foundation
import SRTAdapter
import Supervisor
import Synchronization

let restarts = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 50
guard restarts > 0, restarts <= 10_000 else {
    print("usage: srt-restart [RESTARTS]  (1 to 10,000; 50 by default)")
    exit(2)
}

SRTRuntime.start(logLevel: .error)

/// The figures of one case, in milliseconds, one entry per restart.
struct Figures {
    var connected: [Double] = []
    var handedOut: [Double] = []
    var ready: [Double] = []
}

/// An srt-live-transmit caller reading from a pipe this process holds open (it sends nothing).
final class TransmitCaller {
    private let process = Process()
    private let input = Pipe()

    init(port: Int, streamID: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/srt-live-transmit")
        process.arguments = ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"]
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Self.running.withLock { _ = $0.insert(process.processIdentifier) }
    }

    /// The callers' processes still running, so that a benchmark that fails leaves none behind.
    static let running = Mutex<Set<Int32>>([])

    /// Ends the process: SIGTERM alone would wait for its blocked read of standard input.
    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        Self.running.withLock { _ = $0.remove(process.processIdentifier) }
    }
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}

/// The `fraction` quantile of `values` (nearest rank).
func quantile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func row(_ name: String, _ values: [Double]) -> String {
    let cells = [0.5, 0.95, 1.0].map { String(format: "%8.1f", quantile(values, $0)) }
    return "  \(name.padding(toLength: 34, withPad: " ", startingAt: 0))\(cells.joined(separator: " "))"
}

/// What the server's observers saw: the instants of `ready` events, and the connections handed out with theirs.
final class Observed: Sendable {
    let readies = Mutex<[ContinuousClock.Instant]>([])
    let handedOut = Mutex<[(connection: SRTConnection, at: ContinuousClock.Instant)]>([])

    /// Waits until `condition` holds, polling every millisecond for at most 5 s; whether it does.
    func wait(_ condition: (Observed) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition(self), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(1)) }
        return condition(self)
    }

    /// The connection with `streamID`, once handed out (at most 5 s), and when.
    func connection(_ streamID: String) async -> (connection: SRTConnection, at: ContinuousClock.Instant)? {
        let found = await wait { observed in
            observed.handedOut.withLock { $0.contains { $0.connection.streamID == streamID } }
        }
        return found ? handedOut.withLock { $0.first { $0.connection.streamID == streamID } } : nil
    }
}

/// Ends the benchmark with `message`.
func fail(_ message: String) -> Never {
    print("srt-restart: \(message)")
    for pid in TransmitCaller.running.withLock({ $0 }) { kill(pid, SIGKILL) }
    SRTRuntime.exit(1)
}

/// One case: `restarts` restarts of a fresh server, a new caller at each, a live stream if asked.
func measure(inProcess: Bool, liveStream: Bool) async throws -> Figures {
    let server = SRTServer(
        configuration: try SRTListenerConfiguration(host: "127.0.0.1", port: 0, latency: .milliseconds(40)))
    let observed = Observed()
    let events = server.supervisor.events()
    let watching = Task {
        for await event in events { if case .ready = event { observed.readies.withLock { $0.append(.now) } } }
    }
    let collecting = Task {
        for await connection in server.connections { observed.handedOut.withLock { $0.append((connection, .now)) } }
    }
    let running = Task { try await server.run() }
    defer {
        running.cancel()
        watching.cancel()
        collecting.cancel()
    }
    guard await observed.wait({ $0.readies.withLock { $0.count } == 1 }), let port = server.localAddress?.port else {
        fail("the server was not ready within 5 s")
    }

    var live: (caller: SRTConnection, accepted: SRTConnection, sending: Task<Void, any Error>)?
    if liveStream {
        let caller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: "127.0.0.1", port: port, streamID: "live", latency: .milliseconds(40)))
        guard let (accepted, _) = await observed.connection("live") else { fail("the live caller was not accepted") }
        let sending = Task {
            while !Task.isCancelled {
                try await caller.send([UInt8](repeating: 0x47, count: 188))
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        Task { for try await _ in accepted.messages {} }
        live = (caller, accepted, sending)
    }

    var figures = Figures()
    for trial in 0..<restarts {
        let streamID = "after-restart-\(trial)"
        let readiesBefore = observed.readies.withLock { $0.count }
        let restartedAt = ContinuousClock.now
        server.restartListener()
        var transmit: TransmitCaller?
        var connecting: Task<SRTConnection, any Error>?
        if inProcess {
            connecting = Task {
                try await SRTConnection.connect(
                    try SRTCallerConfiguration(
                        host: "127.0.0.1", port: port, streamID: streamID, latency: .milliseconds(40)))
            }
        } else {
            transmit = try TransmitCaller(port: port, streamID: streamID)
        }
        guard let (connection, at) = await observed.connection(streamID) else {
            fail("restart \(trial): the new caller was not handed out within 5 s")
        }
        // libsrt's connection clock starts when the listener completes the handshake.
        let statistics = try await connection.currentStatistics()
        figures.connected.append((ContinuousClock.now - statistics.elapsed - restartedAt).milliseconds)
        figures.handedOut.append((at - restartedAt).milliseconds)
        // The next restart begins with this one's run ready (a restart without a run does nothing).
        guard await observed.wait({ $0.readies.withLock { $0.count } > readiesBefore }) else {
            fail("restart \(trial): the next run was not ready within 5 s")
        }
        figures.ready.append((observed.readies.withLock { $0[readiesBefore] } - restartedAt).milliseconds)
        connection.close()
        transmit?.stop()
        (try? await connecting?.value)?.close()
    }
    live?.sending.cancel()
    live?.caller.close()
    live?.accepted.close()
    return figures
}

print("srt-restart: \(restarts) restarts per case; milliseconds from restartListener()")
print("  \("".padding(toLength: 34, withPad: " ", startingAt: 0))     p50      p95      max")
for inProcess in [false, true] {
    for liveStream in [false, true] {
        let figures = try await measure(inProcess: inProcess, liveStream: liveStream)
        print(
            "\(inProcess ? "caller in this process" : "srt-live-transmit"), "
                + "\(liveStream ? "a live stream on the port" : "no connections"):")
        print(row("libsrt connected the new caller", figures.connected))
        print(row("handed out on connections", figures.handedOut))
        print(row("next run ready", figures.ready))
    }
}
SRTRuntime.exit(0)
