import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// The connection cap counts handshakes between the listen callback and `accept`. libsrt checks a caller's
    /// encryption only after the callback, so a rejected caller must give its slot back, and one host may hold only
    /// its share of the pending handshakes.
    @Suite("Cap slots of handshakes that cannot become connections")
    struct RejectedHandshakeSlotTests {
        static let secret = "the-right-passphrase"

        /// A caller's credentials that libsrt rejects after the callback admitted it, and the reason it gets.
        struct BadCaller: Sendable, CustomTestStringConvertible {
            let passphrase: String?
            let reason: SRT_REJECT_REASON
            var testDescription: String { passphrase == nil ? "no passphrase" : "a wrong passphrase" }
        }

        @Test(
            "20 callers rejected after the callback free their slots at once: the next right caller gets in under a cap of 2",
            arguments: [
                BadCaller(passphrase: "a-wrong-passphrase", reason: SRT_REJ_BADSECRET),
                BadCaller(passphrase: nil, reason: SRT_REJ_UNSECURE),
            ])
        func rejectedCallersHoldNoSlot(bad: BadCaller) async throws {
            let listener = try SRTListenSocket.open(
                TestSupport.loopback(passphrase: SRTPassphrase(Self.secret), maxConnections: 2))
            defer { listener.close() }
            for index in 0..<20 {
                let configuration = try TestSupport.caller(
                    to: listener, streamID: "bad/\(index)", passphrase: bad.passphrase.map { try SRTPassphrase($0) })
                await #expect {
                    try await SRTConnection.connect(configuration).close()
                } throws: { error in
                    (error as? SRTError)?.rejectReason == Int32(bad.reason.rawValue)
                }
            }
            // Twice the cap: each one is accepted and stays open, so the second one fills the cap for real.
            var open: [SRTConnection] = []
            defer { for connection in open { connection.close() } }
            for index in 0..<2 {
                let (caller, accepted) = try await TestSupport.pair(
                    listener, streamID: "right/\(index)", passphrase: SRTPassphrase(Self.secret))
                open += [caller, accepted]
            }
            let over = try TestSupport.caller(to: listener, streamID: "over", passphrase: SRTPassphrase(Self.secret))
            await #expect {
                try await SRTConnection.connect(over).close()
            } throws: { error in
                (error as? SRTError)?.rejectReason == SRTRejectReason.overload.code
            }
        }

        @Test("one host holds at most its share of the pending handshakes; another host and accepts make room")
        func perHostShare() async throws {
            let listener = try SRTListenSocket.open(
                SRTListenerConfiguration(
                    host: "127.0.0.1", port: 0, latency: .milliseconds(40), maxConnections: 100,
                    maxPendingPerAddress: 2))
            defer { listener.close() }
            func caller(_ streamID: String, from host: String) throws -> SRTCallerConfiguration {
                try SRTCallerConfiguration(
                    host: "127.0.0.1", port: listener.localAddress.port, streamID: streamID,
                    latency: .milliseconds(40), connectTimeout: .seconds(2),
                    bindAddress: SRTAddress(host: host, port: 0))
            }
            // Nobody accepts yet: two handshakes from 127.0.0.1 wait, the third is one too many.
            var callers: [SRTConnection] = []
            defer { for connection in callers { connection.close() } }
            for index in 0..<2 {
                callers.append(try await SRTConnection.connect(caller("wait/\(index)", from: "127.0.0.1")))
            }
            await #expect {
                try await SRTConnection.connect(caller("third", from: "127.0.0.1")).close()
            } throws: { error in
                (error as? SRTError)?.rejectReason == SRTRejectReason.overload.code
            }
            // Another host has its own share.
            callers.append(try await SRTConnection.connect(caller("other-host", from: "127.0.0.2")))
            // Accepts take the handshakes off the pending list (libsrt hands them out in its own order): room again.
            var accepted: [SRTConnection] = []
            defer { for connection in accepted { connection.close() } }
            for _ in 0..<3 {
                accepted.append(try await TestSupport.within(.seconds(2)) { try await listener.accept() })
            }
            callers.append(try await SRTConnection.connect(caller("after-accept", from: "127.0.0.1")))
        }
    }
}

extension TestSupport {
    /// Connects a caller with `passphrase` and accepts it on `listener`; both ends.
    static func pair(
        _ listener: SRTListenSocket, streamID: String, passphrase: SRTPassphrase
    ) async throws -> (caller: SRTConnection, accepted: SRTConnection) {
        async let accepted = listener.accept()
        let caller = try await SRTConnection.connect(
            caller(to: listener, streamID: streamID, passphrase: passphrase))
        return (caller, try await accepted)
    }
}
