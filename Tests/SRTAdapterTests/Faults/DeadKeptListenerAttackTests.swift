import CSRT
import Foundation
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// A listener kept through a restart whose receive thread dies before any start takes it: whatever releases it
    /// then (the keep's limit, or `SRTServer.run()` ending) must retire it as `stop` retires a dead listener. Merely
    /// closed, its connections stay deaf and open for good, nobody hears of them, and after a fault that leaves the UDP
    /// socket bound (an ICMP error) the dead multiplexer keeps the port: every later start fails with EADDRINUSE.
    @Suite("Attack: a kept listener dies before a start takes it")
    struct DeadKeptListenerAttackTests {
        @Test("the receive thread dies while kept: the limit, or closeKeptListener(), retires it with its connections")
        func deadKeptListenerIsRetired() async throws {
            // In a child process (an exit test): the death leaks a multiplexer for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await DeadKeptListenerScenario.run()
            }
            TestSupport.expectChild(result, marker: "DEAD KEPT")
        }
    }
}

enum DeadKeptListenerScenario {
    /// What the listener's callbacks saw.
    final class Seen: Sendable {
        let accepted = Mutex<[SRTConnection]>([])
        let lost = Mutex<[SRTConnection]>([])
    }

    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        // Released by the keep's limit (no start within it), then by closeKeptListener() (SRTServer.run() ending).
        for byLimit in [true, false] {
            let seen = Seen()
            let resource = SRTListener(
                configuration: try TestSupport.loopback(),
                onConnection: { connection in seen.accepted.withLock { $0.append(connection) } },
                onConnectionsLost: { lost in seen.lost.withLock { $0 += lost } })
            let listener = try await resource.start()
            let running = Task { try await resource.run(listener) }
            check(await TestSupport.eventually { resource.takesRestartRequests }, "the run takes restart requests")
            let caller = try await SRTConnection.connect(TestSupport.caller(to: listener, streamID: "victim"))
            check(await TestSupport.eventually { seen.accepted.withLock { $0.count } == 1 }, "the caller handed out")
            let victim = try seen.accepted.withLock { $0.first }.orThrow("victim")
            resource.restart()
            let ended = await running.result
            check((try? ended.get()) == nil, "the run ended on the request")
            await resource.stop(listener)
            check(listener.state == .listening, "kept for the next start")
            // Fault B while kept: the UDP socket becomes /dev/null; the receive thread dies at its next read.
            check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2")
            _ = await listener.probe(timeout: .milliseconds(200))
            check(
                await TestSupport.eventually(within: .seconds(5)) { listener.receiveThreadIsGone == true },
                "the receive thread died")
            if byLimit {
                // No start comes: the supervisor ended, or waits out its restart intensity.
                check(
                    await TestSupport.eventually(within: SRTListener.keptListenerLimit + .seconds(3)) {
                        listener.state == .closed
                    }, "the keep's limit released the listener")
            } else {
                await resource.closeKeptListener()
            }
            let how = byLimit ? "limit" : "closeKeptListener"
            // The release marks the listener closed, then closes its connections and reports them: a moment apart.
            _ = await TestSupport.eventually(within: .seconds(5)) {
                victim.isClosed && seen.lost.withLock { !$0.isEmpty }
            }
            let reported = seen.lost.withLock { $0.map(\.socket) }
            print("DEAD KEPT \(how): dead \(listener.isDead), victim closed \(victim.isClosed), lost \(reported)")
            check(listener.isDead, "\(how): the dead listener is marked dead")
            check(victim.isClosed, "\(how): its deaf connection is closed")
            check(reported == [victim.socket], "\(how): its deaf connection is reported lost")
            caller.close()
        }
        print("DEAD KEPT OK")
    }
}
