import CSRT
import Supervisor
import Testing

@testable import SRTAdapter

extension Loopback {
    @Suite("SRT connections on loopback")
    struct SRTConnectionTests {
        @Test(
            "messages go both ways, byte for byte, with the stream id, the peer and statistics",
            arguments: [false, true])
        func roundTrip(ipv6: Bool) async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback(ipv6: ipv6))
            defer { listener.close() }
            let (caller, accepted) = try await TestSupport.pair(listener, streamID: "publish/cam1")
            defer {
                caller.close()
                accepted.close()
            }
            #expect(accepted.streamID == "publish/cam1")
            #expect(caller.streamID == "publish/cam1")
            #expect(accepted.peerAddress?.host == (ipv6 ? "::1" : "127.0.0.1"))
            #expect(accepted.payloadSize == 1316)

            let messages = (0..<50).map { index in (0..<1316).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) } }
            for message in messages { try await caller.send(message) }
            var received: [[UInt8]] = []
            for _ in messages.indices {
                received.append(try await TestSupport.within(.seconds(3)) { try await accepted.receive() })
            }
            #expect(received == messages)

            try await accepted.send(Array("pong".utf8))
            let reply = try await TestSupport.within(.seconds(3)) { try await caller.receive() }
            #expect(reply == Array("pong".utf8))

            let statistics = try accepted.statistics()
            #expect(statistics.packetsReceived >= 50)
            #expect(statistics.bytesReceived >= UInt64(50 * 1316))
            #expect(try caller.statistics().packetsSent >= 50)
        }

        @Test("a caller to an IPv4-mapped IPv6 address reaches an IPv4 listener, on a UDP socket of its own")
        func mappedAddress() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            async let accepted = listener.accept()
            // The caller's socket is IPv6 and must take IPv4 too, as libsrt's own socket for an unbound caller does.
            let caller = try await SRTConnection.connect(
                try SRTCallerConfiguration(
                    host: "::ffff:127.0.0.1", port: listener.localAddress.port, latency: .milliseconds(40),
                    connectTimeout: .seconds(2)))
            defer { caller.close() }
            let connection = try await accepted
            defer { connection.close() }
            #expect(caller.udpDescriptor != nil)
            try await caller.send(Array("mapped".utf8))
            let received = try await TestSupport.within(.seconds(3)) { try await connection.receive() }
            #expect(received == Array("mapped".utf8))
        }

        @Test(
            "both ends are non-blocking, hold the peer to their receive buffer, and know the peer's port",
            arguments: [false, true])
        func socketSetup(ipv6: Bool) async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback(ipv6: ipv6))
            defer { listener.close() }
            let (caller, accepted) = try await TestSupport.pair(listener)
            defer {
                caller.close()
                accepted.close()
            }
            for connection in [caller, accepted] {
                // A blocking flag would let a send or receive hold the calling thread rather than the reactor wait.
                #expect(Self.flag(connection.socket, SRTO_RCVSYN) == false)
                #expect(Self.flag(connection.socket, SRTO_SNDSYN) == false)
                var window: Int32 = 0
                var bufferBytes: Int32 = 0
                var segmentSize: Int32 = 0
                #expect(csrt_get_int(connection.socket, SRTO_FC, &window) == 0)
                #expect(csrt_get_int(connection.socket, SRTO_RCVBUF, &bufferBytes) == 0)
                #expect(csrt_get_int(connection.socket, SRTO_MSS, &segmentSize) == 0)
                #expect(window == bufferBytes / (segmentSize - 28))
                #expect(window == 8192)
            }
            // The peer `srt_accept` named is the caller's own socket.
            var storage = sockaddr_storage()
            var length = Int32(MemoryLayout<sockaddr_storage>.size)
            let callerLocal = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    srt_getsockname(caller.socket, $0, &length) == 0 ? SRTAddress($0) : nil
                }
            }
            #expect(callerLocal != nil)
            #expect(accepted.peerAddress?.port == callerLocal?.port)
            #expect(caller.peerAddress == listener.localAddress.connectable)
        }

        /// A boolean libsrt option of `socket`, `nil` when libsrt refuses to say.
        private static func flag(_ socket: SRTSOCKET, _ option: SRT_SOCKOPT) -> Bool? {
            var value = false
            var length = Int32(MemoryLayout<Bool>.size)
            return srt_getsockflag(socket, option, &value, &length) == 0 ? value : nil
        }

        @Test("a cancelled receive returns promptly and leaves no waiter behind")
        func cancelReceive() async throws {
            let reactor = SRTReactor()
            defer { reactor.stop() }
            let listener = try SRTListenSocket.open(TestSupport.loopback(), reactor: reactor)
            defer { listener.close() }
            let (caller, accepted) = try await TestSupport.pair(listener, reactor: reactor)
            defer {
                caller.close()
                accepted.close()
            }
            let pending = Task { try await accepted.receive() }
            #expect(await TestSupport.eventually { reactor.waiterCount == 1 })
            let started = ContinuousClock.now
            pending.cancel()
            await #expect(throws: CancellationError.self) { _ = try await pending.value }
            #expect(ContinuousClock.now - started < TestSupport.promptly)
            #expect(reactor.waiterCount == 0)
            // The connection still works afterwards.
            try await caller.send([1, 2, 3])
            #expect(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == [1, 2, 3])
        }

        @Test("close wakes a pending receive promptly with closedLocally")
        func closeWakesReceive() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            let (caller, accepted) = try await TestSupport.pair(listener)
            defer { caller.close() }
            let pending = Task { try await accepted.receive() }
            #expect(await TestSupport.waitersArrived(on: accepted.socket))
            let started = ContinuousClock.now
            accepted.close()
            let error = await #expect(throws: SRTError.self) { _ = try await pending.value }
            #expect(ContinuousClock.now - started < TestSupport.promptly)
            #expect(error?.code == .closedLocally)
            #expect(error?.failureDecision == .stop)
            #expect(accepted.state == .closed)
        }

        @Test("closing the listener wakes a pending accept promptly; cancelling one too")
        func closeAndCancelAccept() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            let pending = Task { try await listener.accept() }
            #expect(await TestSupport.waitersArrived(on: listener.socket))
            var started = ContinuousClock.now
            listener.close()
            let error = await #expect(throws: SRTError.self) { _ = try await pending.value }
            #expect(ContinuousClock.now - started < TestSupport.promptly)
            #expect(error?.failureDecision == .stop)

            let other = try SRTListenSocket.open(TestSupport.loopback())
            defer { other.close() }
            let cancelled = Task { try await other.accept() }
            #expect(await TestSupport.waitersArrived(on: other.socket))
            started = ContinuousClock.now
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { _ = try await cancelled.value }
            #expect(ContinuousClock.now - started < TestSupport.promptly)
        }

        @Test("a connection outlives its listener's close and keeps transferring (healthy case)")
        func outlivesListener() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            let (caller, accepted) = try await TestSupport.pair(listener)
            defer {
                caller.close()
                accepted.close()
            }
            listener.close()
            try await caller.send(Array("still here".utf8))
            #expect(
                try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == Array("still here".utf8))
        }

        @Test("encrypted: the matching passphrase transfers; a plain caller is refused by enforced encryption")
        func encryption() async throws {
            let secret = try SRTPassphrase("0123456789abcdef")
            let listener = try SRTListenSocket.open(TestSupport.loopback(passphrase: secret))
            defer { listener.close() }
            async let acceptedConnection = listener.accept()
            let caller = try await SRTConnection.connect(TestSupport.caller(to: listener, passphrase: secret))
            let accepted = try await acceptedConnection
            defer {
                caller.close()
                accepted.close()
            }
            try await caller.send(Array("secret".utf8))
            #expect(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == Array("secret".utf8))

            let error = await #expect(throws: SRTError.self) {
                _ = try await SRTConnection.connect(TestSupport.caller(to: listener))
            }
            #expect(error?.rejectReason == Int32(SRT_REJ_UNSECURE.rawValue))
        }

        @Test("receiveBatch: every message once, in order, back to back, after receive() took the first of a batch")
        func batches() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            let (caller, accepted) = try await TestSupport.pair(listener)
            defer {
                caller.close()
                accepted.close()
            }
            // Sizes from 1 to 1316 bytes, each message's bytes telling its index: a slice cut one byte off shows.
            let messages = (0..<300).map { index in
                [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 1 + (index * 37) % 1316)
            }
            try await caller.send(contentsOf: messages)
            var received = [try await TestSupport.within(.seconds(3)) { try await accepted.receive() }]
            var batches = 0
            // Bounded: at most one batch per message.
            while received.count < messages.count && batches < messages.count {
                let batch = try await TestSupport.within(.seconds(3)) { try await accepted.receiveBatch() }
                batches += 1
                #expect(batch.bytes == batch.flatMap { $0 }, "the batch's buffer is its messages back to back")
                received += batch.map { Array($0) }
            }
            print("300 messages: 1 by receive(), the rest in \(batches) batches")
            #expect(received == messages)
        }

        @Test("SRTMessageBatch: slices of one buffer; a batch made from arrays gives them back")
        func messageBatch() {
            let batch = SRTMessageBatch([[1, 2, 3], [], [4], [5, 6]])
            #expect(batch.count == 4)
            #expect(batch.bytes == [1, 2, 3, 4, 5, 6])
            #expect(batch.map { Array($0) } == [[1, 2, 3], [], [4], [5, 6]])
            #expect(batch.dropping(2).map { Array($0) } == [[4], [5, 6]])
            #expect(batch.dropping(4).isEmpty)
            #expect(batch.dropping(0).bytes == batch.bytes)
        }

        @Test("messages: an AsyncSequence that ends on our own close and throws when the peer breaks")
        func messagesSequence() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            let (caller, accepted) = try await TestSupport.pair(listener)
            defer { caller.close() }
            for index in 0..<3 { try await caller.send([UInt8(index)]) }
            let reader = Task {
                var received: [[UInt8]] = []
                for try await message in accepted.messages {
                    received.append(message)
                    // Bounded: three messages, then our own close ends the loop.
                    if received.count == 3 { accepted.close() }
                }
                return received
            }
            let received = try await TestSupport.within(.seconds(3)) { try await reader.value }
            #expect(received == [[0], [1], [2]])

            let (otherCaller, otherAccepted) = try await TestSupport.pair(listener)
            defer { otherAccepted.close() }
            otherCaller.close()
            await #expect(throws: SRTError.self) {
                try await TestSupport.within(.seconds(5)) {
                    for try await _ in otherAccepted.messages {}
                }
            }
        }
    }
}
