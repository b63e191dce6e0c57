import CSRT
import Dispatch
import Foundation
import SRTTestSupport
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Interop with a real, independent SRT peer: Debian's `srt-live-transmit` (srt-tools), as a publishing caller
    /// and as a receiving caller.
    @Suite("Interop with srt-live-transmit")
    struct SRTLiveTransmitInteropTests {
        static let tool = "/usr/bin/srt-live-transmit"

        init() {
            // A child that dies early must not take the test process down with SIGPIPE on its stdin.
            signal(SIGPIPE, SIG_IGN)
        }

        /// 267 KiB of a pattern that exposes reordering, loss and duplication: a multiple of both 1316 (our messages)
        /// and 1456 (srt-live-transmit's stdin chunk, which it holds back until it is full).
        static let payload: [UInt8] = (0..<(4 * 68_432)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }

        /// The first index where `a` and `b` differ (or where the shorter ends), for readable failures.
        static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
            if let index = (0..<min(a.count, b.count)).first(where: { a[$0] != b[$0] }) { return index }
            return a.count == b.count ? nil : min(a.count, b.count)
        }

        @Test(
            "srt-live-transmit publishes stdin into an SRTServer; the bytes arrive complete and in order",
            .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
        func publishIntoListener() async throws {
            let server = SRTServer(configuration: try TestSupport.loopback())
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            let port = try #require(server.localAddress).port
            let connections = server.connections
            let child = try ChildProcess(
                Self.tool, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=publish/interop"])
            defer { child.terminate() }

            let connection = try await TestSupport.within(.seconds(5)) {
                var iterator = connections.makeAsyncIterator()
                return try await iterator.next().orThrow("a connection from srt-live-transmit")
            }
            defer { connection.close() }
            #expect(connection.streamID == "publish/interop")

            // Feed stdin from a Dispatch thread: a full pipe blocks the writer, which must not be a pool thread.
            let writer = child.standardInput.fileHandleForWriting
            DispatchQueue.global().async {
                for start in stride(from: 0, to: Self.payload.count, by: 1316) {
                    let chunk = Self.payload[start..<min(start + 1316, Self.payload.count)]
                    do { try writer.write(contentsOf: Data(chunk)) } catch { return }
                    // Live mode: pace like a stream (about 40 Mbit/s) instead of flooding the sender's buffer.
                    if (start / 1316) % 16 == 15 { usleep(4000) }
                }
                // End of input: until then srt-live-transmit was measured holding back up to 8 full stdin chunks.
                try? writer.close()
            }
            let total = Self.payload.count
            let progress = Mutex<[UInt8]>([])
            do {
                try await TestSupport.within(.seconds(15)) {
                    // Bounded by count (the payload) and by time (the enclosing limit).
                    while progress.withLock({ $0.count }) < total {
                        let message = try await connection.receive()
                        progress.withLock { $0 += message }
                    }
                }
            } catch {
                // Tells whether missing bytes wait in our libsrt buffer (our bug) or never arrived (the peer's).
                var pending: Int32 = -1
                var events: Int32 = -1
                _ = csrt_get_int(connection.socket, SRTO_RCVDATA, &pending)
                _ = csrt_get_int(connection.socket, SRTO_EVENT, &events)
                var raw = [CChar](repeating: 0, count: 1500)
                let direct = srt_recvmsg(connection.socket, &raw, 1500)
                Issue.record(
                    "\(error) with \(progress.withLock { $0.count }) of \(total) bytes; RCVDATA \(pending) EVENT \(events) direct recv \(direct)"
                )
            }
            let received = progress.withLock { $0 }
            #expect(received.count == total)
            #expect(Self.firstDifference(received, Self.payload) == nil)
            let statistics = try connection.statistics()
            #expect(statistics.bytesReceived >= UInt64(total))
        }

        @Test(
            "srt-live-transmit receives from an SRTServer's connection to stdout; the bytes match",
            .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
        func playFromListener() async throws {
            let server = SRTServer(configuration: try TestSupport.loopback())
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            let port = try #require(server.localAddress).port
            let connections = server.connections
            let child = try ChildProcess(
                Self.tool, ["-q", "srt://127.0.0.1:\(port)?mode=caller&streamid=play/interop", "file://con"])
            defer { child.terminate() }

            // Collect stdout on a Dispatch thread (blocking reads stay off the pool).
            let collected = Mutex<[UInt8]>([])
            let reader = child.standardOutput.fileHandleForReading
            DispatchQueue.global().async {
                while true {
                    let data = reader.availableData
                    if data.isEmpty { return }
                    collected.withLock { $0 += data }
                }
            }

            let connection = try await TestSupport.within(.seconds(5)) {
                var iterator = connections.makeAsyncIterator()
                return try await iterator.next().orThrow("a connection from srt-live-transmit")
            }
            defer { connection.close() }
            #expect(connection.streamID == "play/interop")
            let payload = Self.payload
            // srt-live-transmit writes stdout through a 4 KiB stdio buffer that only a clean exit flushes: follow the
            // payload with 8 KiB of padding and check the prefix.
            let padded = payload + [UInt8](repeating: 0xA5, count: 8 * 1316)
            for (index, start) in stride(from: 0, to: padded.count, by: 1316).enumerated() {
                try await connection.send(Array(padded[start..<min(start + 1316, padded.count)]))
                if index % 16 == 15 { try await Task.sleep(for: .milliseconds(4)) }
            }
            let complete = await TestSupport.eventually(within: .seconds(10)) {
                collected.withLock { $0.count } >= payload.count
            }
            let received = Array(collected.withLock { $0 }.prefix(payload.count))
            #expect(complete, "\(received.count) of \(payload.count) bytes")
            #expect(Self.firstDifference(received, payload) == nil)
        }
    }
}
