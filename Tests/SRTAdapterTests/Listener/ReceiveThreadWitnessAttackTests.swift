import CSRT
import Foundation
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// The receive-thread witness reads the thread's name: libsrt starts each connection's TSBPD thread from the
    /// receive thread and names it by renaming the creating thread for a moment (`ThreadName` in `StartThread`), so
    /// the live receive thread reads as `SRT:TsbPd` while a new connection's first data arrives.
    @Suite("Attack: the receive-thread witness")
    struct ReceiveThreadWitnessAttackTests {
        @Test("a live listener is never dead to a death elsewhere while its callers start sending")
        func liveListenerWhileCallersStart() async throws {
            let listener = try SRTListenSocket.open(try TestSupport.loopback())
            defer { listener.close() }
            // Its first handshake names the thread for certain.
            #expect(await listener.probe(timeout: .seconds(2)).isAlive)
            let thread = try #require(listener.receiveThread)
            // A death that names a thread no process has: another listener's.
            let elsewhere = ReceiveThreadDeath(sequenceNumber: 1, message: "test", thread: 0x3FFF_FFF0)
            let stop = Atomic(false)
            let wrongVerdicts = Atomic(0)
            let looks = Atomic(0)
            // The check a death elsewhere triggers, asked without pause on a thread of its own (bounded: 60 s).
            let finished = Atomic(false)
            Thread.detachNewThread {
                let deadline = ContinuousClock.now + .seconds(60)
                while !stop.load(ordering: .relaxed), ContinuousClock.now < deadline {
                    if listener.isDead(after: elsewhere) == true { wrongVerdicts.add(1, ordering: .relaxed) }
                    looks.add(1, ordering: .relaxed)
                }
                finished.store(true, ordering: .releasing)
            }
            defer { stop.store(true, ordering: .relaxed) }
            // Callers that connect and send their first message, until a wrong verdict shows (at most 40).
            for index in 0..<40 where wrongVerdicts.load(ordering: .relaxed) == 0 {
                let (caller, accepted) = try await TestSupport.pair(listener, streamID: "caller-\(index)")
                try await caller.send([UInt8](repeating: 1, count: 188))
                _ = try await TestSupport.within(.seconds(5)) { try await accepted.receive() }
                caller.close()
                accepted.close()
            }
            stop.store(true, ordering: .relaxed)
            let ended = await TestSupport.eventually(within: .seconds(5)) { finished.load(ordering: .acquiring) }
            #expect(ended, "the watching thread ended")
            #expect(ReceiveThreads.isRunning(thread), "the receive thread still runs")
            let (wrong, total) = (wrongVerdicts.load(ordering: .relaxed), looks.load(ordering: .relaxed))
            #expect(wrong == 0, "a live listener read as dead \(wrong) times in \(total) looks")
        }
    }
}
