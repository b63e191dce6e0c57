import CSRT
import Foundation
import Glibc
import Logging
import Supervisor
import SwiftOverlayShims  // defines timeval's members for MemberImportVisibility, whatever the file batching
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// 100,000 random and malformed datagrams at a live `SRTServer`'s port, from a plain UDP socket on
    /// loopback, while a legitimate connection streams through the same port.
    @Suite("Garbage datagrams")
    struct GarbageDatagramTests {
        static let datagrams = 100_000
        static let messages = 400

        @Test(
            "the listener keeps accepting, the live connection's data arrives intact, nothing restarts, CPU goes idle")
        func flood() async throws {
            // libsrt logs every rejected handshake at error level: 100,000 lines nobody needs to read.
            SRTRuntime.start(
                logger: Logger(label: "srt", factory: { _ in SwiftLogNoOpLogHandler() }), logLevel: .critical)
            defer { SRTRuntime.start(logger: Logger(label: "srt"), logLevel: .error) }
            let server = SRTServer(
                configuration: try SRTListenerConfiguration(host: "127.0.0.1", port: 0, latency: .milliseconds(200)),
                name: "garbage",
                logger: Logger(label: "garbage", factory: { _ in SwiftLogNoOpLogHandler() }))
            let failures = Atomic(0)
            let events = server.supervisor.events()
            let watcher = Task {
                for await event in events { if case .failed = event { failures.add(1, ordering: .relaxed) } }
            }
            let running = Task { try await server.run() }
            defer {
                running.cancel()
                watcher.cancel()
            }
            let listening = await TestSupport.eventually { server.supervisor.resource.current != nil }
            let listener = try #require(listening ? server.supervisor.resource.current : nil)
            let port = listener.localAddress.port
            var connections = server.connections.makeAsyncIterator()

            let caller = try await SRTConnection.connect(
                try SRTCallerConfiguration(
                    host: "127.0.0.1", port: port, streamID: "legit", latency: .milliseconds(200)))
            defer { caller.close() }
            let accepted = try #require(await connections.next())
            defer { accepted.close() }

            // The legitimate stream: numbered 1316-byte messages, received on the other side while the flood runs.
            let received = Task { () -> [[UInt8]] in
                var messages: [[UInt8]] = []
                while messages.count < Self.messages {
                    messages.append(try await TestSupport.within(.seconds(5)) { try await accepted.receive() })
                }
                return messages
            }
            let floodStarted = ContinuousClock.now
            let flood = Task.detached { Self.sendGarbage(to: port, victim: accepted.socket) }
            for index in 0..<Self.messages {
                try await caller.send(Self.message(index))
                try await Task.sleep(for: .milliseconds(2))
            }
            let sent = await flood.value
            let floodTook = ContinuousClock.now - floodStarted
            let messages = try await received.value
            #expect(sent == Self.datagrams)
            #expect(messages == (0..<Self.messages).map(Self.message), "the live connection's data arrived intact")

            // A new caller is still accepted, and talks.
            let late = try await SRTConnection.connect(
                try SRTCallerConfiguration(
                    host: "127.0.0.1", port: port, streamID: "after", latency: .milliseconds(200)))
            defer { late.close() }
            let lateAccepted = try #require(await connections.next())
            defer { lateAccepted.close() }
            try await late.send([42])
            #expect(try await TestSupport.within(.seconds(3)) { try await lateAccepted.receive() } == [42])
            #expect(failures.load(ordering: .relaxed) == 0, "no failure, no restart")
            #expect(server.supervisor.state.isReady)

            // CPU returns to idle: the CPU time of libsrt's and the adapter's threads over the next second. Not the
            // whole process's: in a full run the other suites share it.
            let (before, processBefore) = (ThreadCPU.snapshot(), Self.cpuTime())
            try await Task.sleep(for: .seconds(1))
            let busy = ThreadCPU.snapshot().seconds(since: before, threadsNamed: ThreadCPU.isSRTThread)
            print(
                "GARBAGE \(sent) datagrams in \(floodTook); \(messages.count) messages intact; CPU in the idle second "
                    + "after: \(busy) s on libsrt's and the adapter's threads, \(Self.cpuTime() - processBefore) s in "
                    + "the process")
            #expect(busy < 0.3, "CPU back to idle: \(busy) s of CPU on libsrt's and the adapter's threads in 1 s")
        }

        static func message(_ index: Int) -> [UInt8] {
            (0..<1316).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0) }
        }

        /// User plus system CPU seconds of this process.
        static func cpuTime() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
            return seconds(usage.ru_utime) + seconds(usage.ru_stime)
        }

        /// Sends the garbage from a plain UDP socket on 127.0.0.1; returns how many datagrams went out.
        static func sendGarbage(to port: Int, victim: Int32) -> Int {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(fd) }
            var random = SplitMix64(seed: 0x6A7B)
            var sent = 0
            var previous: [UInt8] = []
            for index in 0..<datagrams {
                let datagram = garbage(index, &random, victim: victim, previous: previous)
                if TestSupport.sendToLoopback(fd, port: port, datagram) >= 0 { sent += 1 }
                previous = datagram
                // Bounded pace: a short pause every 1,000 datagrams keeps the kernel's buffer from simply dropping.
                if index % 1_000 == 999 { usleep(2_000) }
            }
            return sent
        }

        /// One malformed datagram; the kinds rotate with the index.
        static func garbage(_ index: Int, _ random: inout SplitMix64, victim: Int32, previous: [UInt8]) -> [UInt8] {
            func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
            func word(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
            switch index % 6 {
            case 0:  // random bytes of any length a datagram on loopback can have here
                return bytes(Int(random.next() % 1_500) + 1)
            case 1:  // a handshake (control bit, type 0) cut short
                return word(0x8000_0000) + word(0) + word(UInt32(truncatingIfNeeded: random.next())) + word(0)
                    + bytes(Int(random.next() % 40))
            case 2:  // oversized: far beyond the MTU and any SRT packet
                return bytes(Int(random.next() % 8_000) + 1_501)
            case 3:  // a complete-length handshake with a wrong version and random fields
                let versions: [UInt32] = [0, 2, 3, 6, 0xFFFF_FFFF]
                return word(0x8000_0000) + word(0) + word(0) + word(0)
                    + word(versions[Int(random.next() % 5)]) + bytes(44)
            case 4:  // forged data packets aimed at the live connection's socket id, from the wrong address
                return word(UInt32(truncatingIfNeeded: random.next()) & 0x7FFF_FFFF) + word(0xC000_0000) + word(0)
                    + word(UInt32(bitPattern: victim)) + bytes(1_316)
            default:  // the previous datagram again
                return previous.isEmpty ? bytes(16) : previous
            }
        }
    }
}
