import CSRT
import Foundation
import Synchronization
import Testing

@testable import SRTAdapter

#if canImport(Glibc)
    import Glibc
#endif

extension Loopback {
    /// Attacks on the connect's grace for libsrt's momentary BROKEN (reject reason 0): a peer that completes the
    /// handshake and closes at once is a real failure, and must not cost the caller the grace.
    @Suite("SRTConnection.connect's completing-handshake grace under attack")
    struct SRTConnectGraceAttackTests {
        /// A raw libsrt listener on 127.0.0.1 that closes every connection the moment it accepts it (what a relay
        /// that refuses a publisher after the handshake does), on a thread of its own until `srt_close`.
        private final class ClosingListener: Sendable {
            let socket: SRTSOCKET
            let port: Int
            let accepted = Atomic(0)

            init() throws {
                port = CallerTesting.freePort()
                socket = srt_create_socket()
                let address = SRTAddress(validHost: "127.0.0.1", port: port)
                let bound = address.withSocketAddress { srt_bind(self.socket, $0, $1) }
                guard bound == 0, srt_listen(socket, 8) == 0 else {
                    let error = SRTError.last(.listen)
                    srt_close(socket)
                    throw error
                }
                let listening = self.socket
                Thread.detachNewThread { [self] in
                    // Bounded: 1000 connections at most; a closed listener ends the blocking accept at once.
                    for _ in 0..<1000 {
                        let connection = srt_accept(listening, nil, nil)
                        if connection == SRT_INVALID_SOCK { break }
                        srt_close(connection)
                        self.accepted.add(1, ordering: .relaxed)
                    }
                }
            }

            func close() {
                srt_close(socket)
            }
        }

        @Test(
            "a listener that accepts and closes at once: the connect ends without waiting out the 1 s grace",
            .timeLimit(.minutes(1)))
        func peerClosesRightAfterHandshake() async throws {
            let listener = try ClosingListener()
            defer { listener.close() }
            let configuration = try CallerTesting.configuration(
                SRTAddress(validHost: "127.0.0.1", port: listener.port), connectTimeout: .seconds(2))
            var outcomes: [(seconds: Double, outcome: String)] = []
            // Bounded: 8 connects, each at most the grace plus the connect timeout.
            for _ in 0..<8 {
                let started = ContinuousClock.now
                do {
                    let connection = try await SRTConnection.connect(configuration)
                    outcomes.append((CallerTesting.seconds(.now - started), "connected"))
                    connection.close()
                } catch let error as SRTError {
                    outcomes.append(
                        (CallerTesting.seconds(.now - started), "\(error.code) reason \(error.rejectReason ?? -1)"))
                }
            }
            print("connect to a listener that closes at once: \(outcomes)")
            #expect(listener.accepted.load(ordering: .relaxed) > 0, "the listener accepted the handshakes")
            // The peer closed right after the handshake completed: the socket is BROKEN with reason 0 for good.
            // Before the grace such a connect failed (or returned a connection that ends) at once; a connect that
            // takes 0.9 s or more waited out the grace for a CONNECTED that never comes.
            let slow = outcomes.filter { $0.seconds >= 0.9 }
            #expect(slow.isEmpty, "connects that waited out the grace: \(slow)")
        }
    }
}
