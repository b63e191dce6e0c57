import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// A restart requested while the listener's receive thread dies before anyone noticed: `stop` must not keep the
    /// listener for the next run. Kept, it would listen deaf on a dead multiplexer, and its connections would never be
    /// retired. Refused, it is marked dead and retired like after any death, and the next `start` binds afresh.
    @Suite("Attack: a restart request and an unnoticed death")
    struct DeadRestartAttackTests {
        @Test("the run ended on restart(), then the receive thread died: stop retires it, start binds a live one")
        func restartDoesNotKeepDeadListener() async throws {
            // In a child process (an exit test): the death leaks a multiplexer for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await DeadRestartScenario.run()
            }
            TestSupport.expectChild(result, marker: "DEAD RESTART")
        }
    }
}

enum DeadRestartScenario {
    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        let resource = SRTListener(configuration: try TestSupport.loopback(), onConnection: { $0.close() })
        let listener = try await resource.start()
        let running = Task { try await resource.run(listener) }
        check(await TestSupport.eventually { resource.takesRestartRequests }, "the run takes restart requests")
        resource.restart()
        let ended = await running.result
        check((try? ended.get()) == nil, "the run ended on the request")
        check(listener.receiveThread != nil, "the receive thread is known at bind")
        // Fault B between the run's end and `stop`: the UDP socket becomes /dev/null; the receive thread dies at its
        // next read, which a probe's handshake brings about. No run watches any more: nothing marks it dead.
        check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2")
        _ = await listener.probe(timeout: .milliseconds(200))
        check(
            await TestSupport.eventually(within: .seconds(5)) { listener.receiveThreadIsGone == true },
            "the receive thread died")
        check(!listener.isDead, "nothing marked it dead")
        await resource.stop(listener)
        print("DEAD RESTART stop: marked dead \(listener.isDead)")
        check(listener.isDead, "stop found the dead receive thread and retired the listener")
        let next = try await resource.start()
        check(next !== listener, "start bound a new listener, not the dead one")
        let alive = await next.probe(timeout: .milliseconds(500)).isAlive
        check(alive, "the new listener answers its probe")
        await resource.stop(next)
        print("DEAD RESTART OK")
    }
}
