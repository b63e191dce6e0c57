import CSRT
import Foundation
import Glibc
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// The witness the listener asks before retiring a socket whose self-probe went unanswered: is its receive
    /// thread reading? A live listener whose queue never empties (a flood of datagrams, a busy machine) must still
    /// count as read; one look at the queue does not show it. The dead case is covered by the fault suites, where the
    /// same witness must say "not read" for the listener to be rebuilt.
    @Suite("A busy listener's liveness")
    struct ListenerLivenessTests {
        @Test("under a datagram flood with a live stream, the listener is seen being read at every check")
        func readUnderFlood() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            let (caller, accepted) = try await TestSupport.pair(listener)
            defer {
                caller.close()
                accepted.close()
            }
            let flooding = Switch()
            let port = listener.localAddress.port
            // The flood: as fast as one thread sends, bounded to 5 s whatever happens to the test.
            let flood = Thread { Self.flood(port: port, while: flooding, for: .seconds(5)) }
            flood.start()
            defer { flooding.turnOff() }
            let streaming = Task {
                let payload = [UInt8](repeating: 7, count: 1_316)
                for _ in 0..<1_000 where !Task.isCancelled {
                    _ = try? await caller.send(payload)
                    try? await Task.sleep(for: .milliseconds(2))
                }
            }
            defer { streaming.cancel() }
            try await Task.sleep(for: .milliseconds(100))
            var busyLooks = 0
            for _ in 0..<10 {
                if !listener.receiveQueueIsDrained { busyLooks += 1 }
                #expect(try await listener.isBeingRead(over: .milliseconds(50)))
            }
            print("a single look found the flooded queue busy \(busyLooks) times of 10")
        }

        /// On until turned off, from any thread.
        final class Switch: Sendable {
            private let on = Atomic(true)
            var isOn: Bool { on.load(ordering: .relaxed) }
            func turnOff() { on.store(false, ordering: .relaxed) }
        }

        /// Sends 64-byte garbage datagrams to `port` on 127.0.0.1 until `flag` clears or `limit` passes.
        static func flood(port: Int, while flag: Switch, for limit: Duration) {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(fd) }
            let garbage = [UInt8](repeating: 0xA5, count: 64)
            let end = ContinuousClock.now + limit
            while flag.isOn, ContinuousClock.now < end {
                _ = TestSupport.sendToLoopback(fd, port: port, garbage)
            }
        }
    }
}
