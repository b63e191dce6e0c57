import CSRT
import Testing

@testable import SRTAdapter

extension Loopback {
    @Suite("Concurrent caller connects")
    struct ConcurrentConnectTests {
        /// Rounds of callers connecting at the same time to one listener, every connection closed before the next
        /// round: libsrt 1.5.1 reports a caller's socket BROKEN with reject reason 0 for a moment while its
        /// handshake completes (between clearing "connecting" and setting "connected", while its receive thread
        /// waits for libsrt's global lock), and a connect that read its state then failed with 1002, although the
        /// socket was CONNECTED a moment later. Without the wait: a failure in rounds 1 to 33, 11 runs out of 11.
        @Test("concurrent callers all connect, round after round, with the previous round closed")
        func concurrentRounds() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            let caller = try TestSupport.caller(to: listener, streamID: "burst", connectTimeout: .seconds(10))
            let perRound = 4
            // Bounded in count and in time: on a loaded machine fewer rounds run, each still a full burst.
            let deadline = ContinuousClock.now + .seconds(6)
            var rounds = 0
            var failures: [String] = []
            while rounds < 80, ContinuousClock.now < deadline, failures.isEmpty {
                rounds += 1
                // One task accepts the round's callers, one at a time, while they connect.
                async let accepted = TestSupport.within(.seconds(10)) {
                    var connections: [SRTConnection] = []
                    for _ in 0..<perRound { connections.append(try await listener.accept()) }
                    return connections
                }
                let outcomes = await withTaskGroup(of: Result<SRTConnection, any Error>.self) { group in
                    for _ in 0..<perRound {
                        group.addTask {
                            do { return .success(try await SRTConnection.connect(caller)) } catch {
                                return .failure(error)
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                var connections: [SRTConnection] = []
                for outcome in outcomes {
                    switch outcome {
                    case .success(let connection): connections.append(connection)
                    case .failure(let error): failures.append("round \(rounds): \(error)")
                    }
                }
                // A failed connect leaves its accept waiting: the round's accepts end with the listener's close then.
                if failures.isEmpty { connections += try await accepted } else { listener.close() }
                for connection in connections { connection.close() }
            }
            #expect(failures.isEmpty, "\(failures)")
            #expect(rounds >= 5, "only \(rounds) rounds ran")
        }
    }
}
