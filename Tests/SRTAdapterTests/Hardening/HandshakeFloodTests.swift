import CSRT
import Foundation
import Glibc
import Logging
import SRTTestSupport
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// A handshake flood at a live `SRTServer` with a connection cap: 1,000 concurrent callers, then
    /// repeated connect-and-abort, while a legitimate caller keeps getting in. The flood's callers share one local
    /// UDP port (one libsrt multiplexer), so the test process does not need thousands of threads to make them.
    @Suite("Handshake flood")
    struct HandshakeFloodTests {
        @Test(
            "1,000 concurrent callers and connect-and-abort: the cap holds with its reason, a legitimate caller gets in within 1 s"
        )
        func flood() async throws {
            // In a child process (an exit test), so that its memory figures are its own.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await HandshakeFloodScenario.run()
            }
            TestSupport.expectChild(result, marker: "FLOOD")
        }

    }
}

enum HandshakeFloodScenario {
    static let flood = 1_000
    static let cap = 100
    static let aborts = 300

    static func run() async -> Never {
        await TestSupport.runChild(scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        SRTRuntime.start(
            logger: Logger(label: "srt", factory: { _ in SwiftLogNoOpLogHandler() }), logLevel: .critical)
        defer { SRTRuntime.start(logger: Logger(label: "srt"), logLevel: .error) }
        let server = SRTServer(
            configuration: try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), backlog: 1_024, maxConnections: cap,
                // The callers, all on 127.0.0.1, stand in for a thousand hosts: no per-host share.
                maxPendingPerAddress: flood),
            name: "flood",
            logger: Logger(label: "flood", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await server.run() }
        defer { running.cancel() }
        check(
            await TestSupport.eventually(within: .seconds(5)) { server.supervisor.state.isReady }, "the server is ready"
        )
        let port = try server.localAddress.orThrow("the server's address").port
        // Everything accepted is kept open (the cap counts open connections) until the phase ends.
        let accepted = Mutex<[SRTConnection]>([])
        let acceptedInAll = Atomic<Int>(0)
        let acceptor = Task {
            for await connection in server.connections {
                accepted.withLock { $0.append(connection) }
                acceptedInAll.add(1, ordering: .relaxed)
            }
        }
        defer { acceptor.cancel() }
        let residentBefore = residentBytes()

        // Phase 1, three rounds: 1,000 callers at once, from one local port. The rounds show the memory is
        // bounded: what one round takes (libsrt's per-socket buffers, on both sides in this process) is given
        // back, not added up.
        let local = try SRTAddress(host: "127.0.0.1", port: freeUDPPort())
        var residentAfterRound: [Int] = []
        for round in 0..<3 {
            let acceptedBefore = acceptedInAll.load(ordering: .relaxed)
            // Where each round starts and ends, for a failure's reading: which listener, what it counts.
            let before = try server.supervisor.resource.current.orThrow("the listener")
            print("FLOOD round \(round + 1) begins on \(Self.describe(before)), \(server.supervisor.state)")
            let outcomes = await connectAll(port: port, local: local, round: round)
            let connected = outcomes.compactMap { try? $0.get() }
            let reasons = outcomes.compactMap { outcome -> Int32? in
                guard case .failure(let error) = outcome else { return nil }
                return (error as? SRTError)?.rejectReason
            }
            let byReason = Dictionary(grouping: reasons, by: { $0 }).mapValues(\.count)
            let after = try server.supervisor.resource.current.orThrow("the listener")
            print("FLOOD round \(round + 1) ends on \(Self.describe(after)), \(server.supervisor.state)")
            print(
                "FLOOD round \(round + 1): \(flood) callers, \(connected.count) connected, \(reasons.count) rejected \(byReason)"
            )
            // Under churn libsrt itself now and then refuses a handshake with reason 0, and on a loaded machine
            // (load average 25 measured) some callers time out (16) after the listener admitted them: their slots
            // are taken by connections whose caller gave up, or free again once the others were turned away. The
            // cap holds either way, and every other caller is told 1402.
            let notFromTheCap = reasons.count { $0 == 0 || $0 == 16 }
            check(
                connected.count <= cap && connected.count + notFromTheCap >= cap,
                "the cap: \(connected.count) connected, \(byReason)")
            check(reasons.count == flood - connected.count, "the others rejected: \(reasons.count)")
            check(
                reasons.allSatisfy { $0 == SRTRejectReason.overload.code || $0 == 0 || $0 == 16 },
                "rejected as overload: \(byReason)")
            for connection in connected { connection.close() }
            // Close the server side too, as the acceptor takes them, until no admitted handshake waits and no
            // connection is open: on a loaded machine it lags by seconds, and a connection it takes after the round
            // would hold its slot into the next one. (A caller that closed before its accept may come out of
            // libsrt's queue broken: the accept settles its slot and hands nothing out, so the acceptor's count is
            // not the measure.)
            let listener = try server.supervisor.resource.current.orThrow("the listener")
            let free = await TestSupport.eventually(within: .seconds(10)) {
                for connection in accepted.withLock({ list in
                    defer { list.removeAll() }
                    return list
                }) {
                    connection.close()
                }
                return listener.pendingHandshakeCount == 0 && listener.openConnectionSlots == 0
            }
            check(
                free,
                "round \(round + 1): \(acceptedInAll.load(ordering: .relaxed) - acceptedBefore) of \(connected.count) "
                    + "handed out, \(listener.pendingHandshakeCount) admitted handshakes pending, "
                    + "\(listener.openConnectionSlots) slots open"
            )
            // libsrt releases closed sockets in its garbage collector, a second or more later (later on a loaded
            // machine): measured once resident memory has stopped falling for 1.5 s.
            residentAfterRound.append(await settledResidentBytes())
            // Once more after that wait: a caller that closed while queued may still come out of libsrt's queue
            // connected (its close not seen yet) and be handed out late; left open, it would hold a slot of the cap
            // into the next round until libsrt's peer-idle timeout (seen once: the next round began with 100 open).
            let stillFree = await TestSupport.eventually(within: .seconds(10)) {
                for connection in accepted.withLock({ list in
                    defer { list.removeAll() }
                    return list
                }) {
                    connection.close()
                }
                return listener.pendingHandshakeCount == 0 && listener.openConnectionSlots == 0
            }
            check(stillFree, "round \(round + 1): \(listener.openConnectionSlots) slots open after the wait")
        }
        let perRound = residentAfterRound.map { ($0 - residentBefore) / 1_048_576 }
        print("FLOOD resident memory above the start after each round: \(perRound) MiB")
        // Against the most an earlier round reached: one round's figure depends on when libsrt's collector ran and
        // on how much of malloc's arenas it touched (measured 66 to 240 MiB for the same first round), so memory
        // that is given back can read lower in any round, but a leak adds up to the last one.
        let growth = residentAfterRound[2] - max(residentAfterRound[0], residentAfterRound[1])
        check(growth < 100 * 1_048_576, "memory grows per round: \(perRound) MiB")

        // Phase 2: connect-and-abort, with a legitimate caller arriving in the middle.
        let legitimate = Task { () -> Duration in
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            let configuration = try SRTCallerConfiguration(
                host: "127.0.0.1", port: port, streamID: "legitimate", latency: .milliseconds(40),
                connectTimeout: .seconds(1))
            // A legitimate caller retries as any real one does: under the churn libsrt now and then refuses a
            // handshake with reason 0; what counts is being in within 1 s.
            let caller = try await retry(backoff: .constant(.milliseconds(20)), maxAttempts: 20) {
                try await SRTConnection.connect(configuration)
            }
            defer { caller.close() }
            return ContinuousClock.now - started
        }
        for index in 0..<aborts {
            let caller = try? await SRTConnection.connect(
                try SRTCallerConfiguration(
                    host: "127.0.0.1", port: port, streamID: "abort/\(index)", latency: .milliseconds(40),
                    connectTimeout: .seconds(2), bindAddress: local))
            caller?.close()
            if index % 10 == 0 {
                for connection in accepted.withLock({ list in
                    defer { list.removeAll() }
                    return list
                }) {
                    connection.close()
                }
            }
        }
        let legitimateTook = try await legitimate.value
        print("FLOOD legitimate caller connected in \(legitimateTook) during \(aborts) connect-and-abort")
        check(legitimateTook < .seconds(1), "the legitimate caller within 1 s")
        check(server.supervisor.state.isReady, "the listener never stopped")

        for connection in accepted.withLock({ $0 }) { connection.close() }
        print("FLOOD OK")

    }

    /// The listener with what its cap counts.
    static func describe(_ listener: SRTListenSocket) -> String {
        "\(listener): \(listener.pendingHandshakeCount) pending, \(listener.openConnectionSlots) open"
    }

    /// Starts `flood` callers at once from `local` and waits for every outcome.
    static func connectAll(port: Int, local: SRTAddress, round: Int) async -> [Result<SRTConnection, any Error>] {
        await withTaskGroup(of: Result<SRTConnection, any Error>.self) { group in
            for index in 0..<flood {
                group.addTask {
                    do {
                        return .success(
                            try await SRTConnection.connect(
                                try SRTCallerConfiguration(
                                    host: "127.0.0.1", port: port, streamID: "flood/\(round)/\(index)",
                                    latency: .milliseconds(40), connectTimeout: .seconds(5), bindAddress: local)))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var outcomes: [Result<SRTConnection, any Error>] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
    }

    /// Resident memory once it has not fallen for 1.5 s (looked at every 250 ms, for at most 10 s).
    static func settledResidentBytes() async -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        var lowest = residentBytes()
        var since = ContinuousClock.now
        while ContinuousClock.now < deadline && ContinuousClock.now - since < .milliseconds(1_500) {
            try? await Task.sleep(for: .milliseconds(250))
            // Freed memory that malloc keeps in its per-thread arenas is no leak: 1,000 callers' threads leave some
            // arenas full of free chunks, which read as 60 to 150 MiB of growth in one round or another otherwise.
            csrt_malloc_trim()
            let now = residentBytes()
            // Falling by more than a MiB: the collector is still at work.
            if now < lowest - 1_048_576 { since = ContinuousClock.now }
            lowest = min(lowest, now)
        }
        return lowest
    }

    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        return (statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 4_096
    }

    /// A UDP port on 127.0.0.1 that was free a moment ago.
    static func freeUDPPort() throws -> Int { try FreePort.loopback() }
}
