import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Several tasks accepting on one listener while a burst of callers connects: every caller is handed out.
    ///
    /// libsrt reports a listener's readiness as one edge however many callers queue behind it. A task that found
    /// nothing pending just before that edge, but was not waiting yet when it came, must still look again: else the
    /// queued callers wait for the next caller's edge, for good at the end of a burst.
    @Suite("Concurrent accepts")
    struct ConcurrentAcceptTests {
        static let rounds = 30
        static let burst = 20

        @Test("30 bursts of 20 callers against 20 waiting accepts: each burst handed out whole within 5 s")
        func burstsAreHandedOutWhole() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback(backlog: 256))
            defer { listener.close() }
            // The callers share one local port, hence one multiplexer: 600 connections cost two threads.
            var error: Int32 = 0
            let probe = SRTAddress(validHost: "127.0.0.1", port: 0).withSocketAddress { csrt_udp_bind($0, $1, &error) }
            let callerPort = Int(csrt_local_port(probe))
            close(probe)
            let caller = try SRTCallerConfiguration(
                host: "127.0.0.1", port: listener.localAddress.port, streamID: "burst", latency: .milliseconds(40),
                connectTimeout: .seconds(3), bindAddress: SRTAddress(validHost: "127.0.0.1", port: callerPort))
            var all: [SRTConnection] = []
            // Closed at the end, not between bursts: this is about accepts, not about closes racing connects.
            defer { for connection in all { connection.close() } }
            var slowest = Duration.zero
            for round in 0..<Self.rounds {
                let started = ContinuousClock.now
                let connections = try await TestSupport.within(.seconds(5)) {
                    try await withThrowingTaskGroup(of: SRTConnection.self) { group in
                        for _ in 0..<Self.burst {
                            group.addTask { try await SRTConnection.connect(caller) }
                            group.addTask { try await listener.accept() }
                        }
                        var connections: [SRTConnection] = []
                        for try await connection in group { connections.append(connection) }
                        return connections
                    }
                }
                slowest = max(slowest, ContinuousClock.now - started)
                #expect(connections.count == 2 * Self.burst, "round \(round)")
                all += connections
            }
            print("CONCURRENT ACCEPTS \(Self.rounds) bursts of \(Self.burst): slowest burst \(slowest)")
        }
    }
}
