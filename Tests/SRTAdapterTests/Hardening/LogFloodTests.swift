import Foundation
import InMemoryLogging
import Logging
import SRTTestSupport
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// libsrt logs a line or more for every handshake it rejects: a flood of them must not flood the log.
    @Suite(
        "Log flood",
        .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
    struct LogFloodTests {
        @Test(
            "wrong-passphrase callers: a few lines of each kind, then summaries whose counts add up to every handshake")
        func flood() async throws {
            // In a child process (an exit test): the rate limiter and the log bridge are process-wide.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await LogFloodScenario.run()
            }
            TestSupport.expectChild(result, marker: "LOG FLOOD")
        }
    }
}

enum LogFloodScenario {
    /// libsrt's line for a rejected handshake: "KMREQ result abnornal - rejecting per enforced encryption".
    @Sendable static func kmreq(_ entry: InMemoryLogHandler.Entry) -> Bool {
        "\(entry.message)".contains("KMREQ result")
    }

    /// The count a summary line carries; `nil` for a message logged as it came.
    @Sendable static func suppressed(_ entry: InMemoryLogHandler.Entry) -> Int? {
        entry.metadata["srt.suppressed"].flatMap { Int("\($0)") }
    }

    static let burst = 3
    static let interval = Duration.seconds(1)
    /// About 1.3 s of two attackers on an idle machine; with one core kept busy they made 289 in 30 s.
    static let handshakes = 200

    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        signal(SIGPIPE, SIG_IGN)
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "srt") { _ in handler }
        logger.logLevel = .trace
        // Warnings too, as srt-relay asks for: libsrt writes three lines per rejected handshake at that level.
        SRTRuntime.start(
            logger: logger, logLevel: .warning, logRateLimit: try SRTLogRateLimit(burst: burst, interval: interval))
        let count = Atomic<Int>(0)
        let access = try SRTAccessControl(deadline: TestSupport.accessDeadline) { _ in
            count.add(1, ordering: .relaxed)
            return .accept
        }
        let server = SRTServer(
            configuration: try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: SRTPassphrase("the-right-one"),
                // Both attackers come from 127.0.0.1: the default share of pending handshakes per host would turn
                // some away after the access control counted them, before libsrt's key check logs them.
                maxPendingPerAddress: 64, accessControl: access),
            name: "log-flood", logger: Logger(label: "quiet", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await server.run() }
        defer { running.cancel() }
        check(await TestSupport.eventually(within: .seconds(5)) { server.supervisor.state.isReady }, "ready")
        let port = try server.localAddress.orThrow("the server's address").port

        let started = ContinuousClock.now
        let flood = try (0..<2).map { index in
            try FloodingCaller(
                url: "srt://127.0.0.1:\(port)?mode=caller&latency=40&streamid=a/\(index)&passphrase=a-wrong-one")
        }
        // Bounded by the attackers' pace, not the limiter's: a loaded machine starts srt-live-transmit slowly (25
        // handshakes in 10 s were seen under a full parallel run and two builds).
        let flooded = await TestSupport.eventually(within: .seconds(30)) {
            count.load(ordering: .relaxed) >= handshakes
        }
        for attacker in flood { attacker.stop() }
        let lasted = ContinuousClock.now - started
        check(flooded, "\(handshakes) handshakes, \(count.load(ordering: .relaxed)) made")

        // Every handshake the access control admitted was one KMREQ line, logged or counted: once the last summary
        // is out (an interval after the flood), they add up.
        // A handshake already on its way when the attackers stopped is counted later: compared with the count then.
        let accounted = await TestSupport.eventually(within: .seconds(5)) {
            handler.entries.filter(kmreq).map { suppressed($0) ?? 1 }.reduce(0, +) == count.load(ordering: .relaxed)
        }
        let total = count.load(ordering: .relaxed)
        let entries = handler.entries
        let kmreqLines = entries.filter(kmreq)
        let summaries = entries.filter { suppressed($0) != nil }
        let kinds = Set(entries.compactMap { $0.metadata["srt.line"].map { "\($0)" } })
        print(
            "LOG FLOOD \(total) rejected handshakes in \(lasted): \(entries.count) lines from libsrt (\(kinds.count) kinds), \(kmreqLines.count) of them about KMREQ, \(summaries.count) summaries"
        )
        if let summary = kmreqLines.first(where: { suppressed($0) != nil }) {
            print("LOG FLOOD e.g. \(summary.message)")
        }
        check(accounted, "the KMREQ lines and summaries count \(total) handshakes")
        // Per kind: the burst, one summary per interval of the flood, and the last one after it.
        let seconds = Int(lasted.components.seconds) + 2
        check(
            kmreqLines.count <= burst + seconds, "KMREQ lines bounded: \(kmreqLines.count) for \(total) handshakes")
        check(entries.count <= kinds.count * (burst + seconds), "lines bounded: \(entries.count) for \(total)")
        check(summaries.contains(where: kmreq), "a summary of the KMREQ lines")
        print("LOG FLOOD OK")
    }
}
