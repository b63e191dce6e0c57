import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// The receive-thread witness with no descriptor free: a live thread must not read as gone, or a death elsewhere
    /// would retire every live listener of a process that ran out of descriptors.
    @Suite("libsrt's receive threads")
    struct ReceiveThreadsTests {
        @Test("out of descriptors: a live receive thread still runs, a gone one is gone, a death elsewhere is not ours")
        func witnessWithoutDescriptors() async throws {
            // In a child process (an exit test): it lowers the descriptor limit for good.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await ReceiveThreadsScenario.run()
            }
            TestSupport.expectChild(result, marker: "THREADS")
        }
    }
}

enum ReceiveThreadsScenario {
    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(30), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        let listener = try SRTListenSocket.open(try TestSupport.loopback())
        defer { listener.close() }
        // Its first handshake names the thread for certain.
        check(await listener.probe(timeout: .seconds(2)).isAlive, "the listener answers")
        let thread = try listener.receiveThread.orThrow("the receive thread")
        check(ReceiveThreads.isRunning(thread), "its receive thread runs")
        // An id no thread of this process has (above any pid_max).
        let nobody: Int32 = 0x3FFF_FFF0
        check(!ReceiveThreads.isRunning(nobody), "no such thread")
        let elsewhere = ReceiveThreadDeath(sequenceNumber: 1, message: "test", thread: nobody)

        var exhaustion = try DescriptorExhaustion(headroom: 16)
        check(exhaustion.fill(leaving: 0) == EMFILE, "descriptors exhausted")
        let running = ReceiveThreads.isRunning(thread)
        let gone = ReceiveThreads.isRunning(nobody)
        let verdict = listener.isDead(after: elsewhere)
        let snapshot = ReceiveThreads.snapshot()
        exhaustion.release(16)
        check(running, "with no descriptor free, the live receive thread still runs")
        check(!gone, "with no descriptor free, a thread that does not exist is gone")
        check(
            verdict == false,
            "with no descriptor free, a death elsewhere is not this listener's: \(String(describing: verdict))")
        check(snapshot == nil, "with no descriptor free, the snapshot says it cannot tell")
        print("THREADS OK")
    }
}
