import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// A restart requested while the listener's receive thread has just died, before anyone noticed: the hand-over
    /// must not go ahead. With the UDP socket intact (fault A) `srt_bind` joins the dead multiplexer and the new
    /// listener is deaf; with it replaced (fault B, this test) libsrt binds afresh, but the new listener takes the
    /// dead thread for its own (a later death signal retires it, live) and the dead listener's connections are never
    /// retired. Refused, the listener is marked dead and retired like after any death.
    @Suite("Attack: a hand-over after an unnoticed death")
    struct DeadHandOverAttackTests {
        @Test("the receive thread died, nothing marked it: the hand-over refuses with receiveThreadDied")
        func handOverRefusesDeadMultiplexer() async throws {
            // In a child process (an exit test): the death leaks a multiplexer for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await DeadHandOverScenario.run()
            }
            TestSupport.expectChild(result, marker: "DEAD HAND-OVER")
        }
    }
}

enum DeadHandOverScenario {
    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        let listener = try SRTListenSocket.open(try TestSupport.loopback())
        defer { listener.close() }
        check(listener.receiveThread != nil, "the receive thread is known at bind")
        // Fault B: the UDP socket becomes /dev/null; the receive thread dies at its next read, which a probe's
        // handshake brings about. Nothing marks the listener dead: no supervisor runs here.
        check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2")
        _ = await listener.probe(timeout: .milliseconds(200))
        check(
            await TestSupport.eventually(within: .seconds(5)) { listener.receiveThreadIsGone == true },
            "the receive thread died")
        check(!listener.isDead, "nothing marked it dead")
        let outcome = await SRTControlThread.shared.run { () -> Result<SRTListenSocket.HandOver, SRTError> in
            Result { () throws(SRTError) in try SRTListenSocket.handOver(from: listener, reactor: .shared) }
        }
        switch outcome {
        case .success(let handOver):
            let inherited = handOver.listener.receiveThread == listener.receiveThread
            let alive = await handOver.listener.probe(timeout: .milliseconds(300)).isAlive
            handOver.listener.close()
            print(
                "DEAD HAND-OVER went ahead after the death: probe alive \(alive), takes the dead receive thread for "
                    + "its own \(inherited), old listener marked dead \(listener.isDead)")
            check(false, "the hand-over went ahead after an unnoticed death")
        case .failure(let error):
            print("DEAD HAND-OVER refused: \(error)")
            check(error.code == .receiveThreadDied, "refused as receiveThreadDied: \(error.code)")
            check(listener.isDead, "the listener is marked dead, so that it is retired")
        }
        print("DEAD HAND-OVER OK")
    }
}
