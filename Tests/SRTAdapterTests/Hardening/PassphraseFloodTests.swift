import CSRT
import Foundation
import Glibc
import Logging
import SRTTestSupport
import Supervisor
import SwiftOverlayShims  // defines timeval's members for MemberImportVisibility, whatever the file batching
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Callers with a wrong passphrase pass the listen callback (libsrt checks the passphrase after it) and are
    /// rejected a hundred times a second each: they must not lock the right publisher out of the connection cap.
    @Suite(
        "Wrong-passphrase flood",
        .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
    struct PassphraseFloodTests {
        @Test(
            "4 srt-live-transmit callers with a wrong passphrase: the right publisher is in within 1 s and received whole"
        )
        func flood() async throws {
            // In a child process (an exit test), so that its CPU figures are its own.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await PassphraseFloodScenario.run()
            }
            TestSupport.expectChild(result, marker: "PASSPHRASE FLOOD")
        }
    }
}

enum PassphraseFloodScenario {
    static let secret = "the-right-passphrase"
    static let wrong = "a-wrong-passphrase"
    /// Small, so that a few hundred held slots are many times the cap.
    static let cap = 16
    static let attackers = 4
    /// Handshakes the attackers make before the publisher comes: about three seconds of the flood, 30 times
    /// the cap.
    static let attackHandshakes = 30 * cap

    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        signal(SIGPIPE, SIG_IGN)
        SRTRuntime.start(
            logger: Logger(label: "srt", factory: { _ in SwiftLogNoOpLogHandler() }), logLevel: .critical)
        // Counts every handshake that reaches the listen callback; admits them all, as a stream-id check would.
        let handshakes = Atomic<Int>(0)
        let access = try SRTAccessControl(deadline: TestSupport.accessDeadline) { _ in
            handshakes.add(1, ordering: .relaxed)
            return .accept
        }
        let server = SRTServer(
            configuration: try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: SRTPassphrase(secret),
                maxConnections: cap, accessControl: access),
            name: "passphrase-flood",
            logger: Logger(label: "flood", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await server.run() }
        defer { running.cancel() }
        check(
            await TestSupport.eventually(within: .seconds(5)) { server.supervisor.state.isReady }, "the server is ready"
        )
        let port = try server.localAddress.orThrow("the server's address").port
        let url = "srt://127.0.0.1:\(port)?mode=caller&latency=40"

        let cpuBefore = cpuTime()
        let attackStarted = ContinuousClock.now
        let flood = try (0..<attackers).map { index in
            try FloodingCaller(url: "\(url)&streamid=attacker/\(index)&passphrase=\(wrong)")
        }
        defer { for attacker in flood { attacker.stop() } }
        let flooded = await TestSupport.eventually(within: .seconds(10)) {
            handshakes.load(ordering: .relaxed) >= attackHandshakes
        }
        print(
            "PASSPHRASE FLOOD \(handshakes.load(ordering: .relaxed)) handshakes from \(attackers) callers in \(ContinuousClock.now - attackStarted)"
        )
        check(flooded, "the attackers made \(attackHandshakes) handshakes")

        // The right publisher, while the flood goes on.
        let payload = Loopback.SRTLiveTransmitInteropTests.payload
        let publishStarted = ContinuousClock.now
        // A latency of 1 s for the publisher (libsrt takes the larger of both sides'): a test machine running every
        // suite at once stalls threads for longer than 400 ms now and then, and live mode drops what comes later
        // than its latency; the stream's loss is not what this test is about.
        let publisher = try ChildProcess(
            FloodingCaller.tool,
            [
                "-q", "file://con",
                "srt://127.0.0.1:\(port)?mode=caller&latency=1000&streamid=publisher&passphrase=\(secret)",
            ])
        defer { publisher.terminate() }
        let connections = server.connections
        let connection: SRTConnection
        do {
            connection = try await TestSupport.within(.seconds(3)) {
                var iterator = connections.makeAsyncIterator()
                return try await iterator.next().orThrow("a connection")
            }
        } catch {
            check(false, "the publisher was not accepted within 3 s (\(error))")
            return
        }
        defer { connection.close() }
        let admittedAfter = ContinuousClock.now - publishStarted
        print("PASSPHRASE FLOOD publisher accepted \(admittedAfter) after it started, during the flood")
        check(connection.streamID == "publisher", "the publisher's stream id: \(connection.streamID)")
        check(admittedAfter < .seconds(1), "the publisher within 1 s: \(admittedAfter)")

        let writer = publisher.standardInput.fileHandleForWriting
        Thread.detachNewThread {
            for start in stride(from: 0, to: payload.count, by: 1316) {
                do { try writer.write(contentsOf: Data(payload[start..<min(start + 1316, payload.count)])) } catch {
                    return
                }
                // Live mode: paced like a stream (about 40 Mbit/s), not a burst the sender's buffer would drop.
                if (start / 1316) % 16 == 15 { usleep(4000) }
            }
            try? writer.close()
        }
        var received: [UInt8] = []
        do {
            received = try await TestSupport.within(.seconds(15)) {
                var bytes: [UInt8] = []
                // Bounded by count (the payload) and by time (the enclosing limit).
                while bytes.count < payload.count { bytes += try await connection.receive() }
                return bytes
            }
        } catch {
            check(false, "the stream was not received whole: \(error)")
        }
        check(received == payload, "the publisher's bytes, \(received.count) of \(payload.count), arrived unchanged")

        // An attacker in this process reads its reason: libsrt's "incorrect passphrase", not the cap's 1402.
        let wrongCaller = try SRTCallerConfiguration(
            host: "127.0.0.1", port: port, streamID: "attacker/in-process", latency: .milliseconds(40),
            passphrase: SRTPassphrase(wrong), connectTimeout: .seconds(1))
        do {
            try await SRTConnection.connect(wrongCaller).close()
            check(false, "a wrong passphrase was accepted")
        } catch let error as SRTError {
            check(error.rejectReason == Int32(SRT_REJ_BADSECRET.rawValue), "the wrong passphrase's reason: \(error)")
        }

        let attackLasted = ContinuousClock.now - attackStarted
        let cpu = cpuTime() - cpuBefore
        let rejections = flood.map(\.rejections)
        let share = cpu / attackLasted
        print(
            "PASSPHRASE FLOOD \(handshakes.load(ordering: .relaxed)) handshakes in \(attackLasted); CPU of this process \(cpu) (\(Int(share * 100)) % of one core); attackers told \"incorrect passphrase\" \(rejections) times"
        )
        check(rejections.allSatisfy { $0 > 0 }, "every attacker was told its passphrase is wrong: \(rejections)")
        check(share < 1.0, "CPU under one core: \(Int(share * 100)) %")
        check(server.supervisor.state.isReady, "the listener never stopped")
        print("PASSPHRASE FLOOD OK")
    }

    /// User and system CPU time of this process so far.
    static func cpuTime() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func duration(_ time: timeval) -> Duration { .seconds(time.tv_sec) + .microseconds(time.tv_usec) }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }
}
