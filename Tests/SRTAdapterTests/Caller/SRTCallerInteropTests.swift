import CSRT
import Dispatch
import Foundation
import SRTTestSupport
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// `SRTCaller` against a real, independent listener: Debian's `srt-live-transmit` in listener mode writing what
    /// it receives to stdout, killed by its pid and started again on the same port under the caller.
    @Suite("SRTCaller against srt-live-transmit")
    struct SRTCallerInteropTests {
        static let tool = SRTLiveTransmitInteropTests.tool

        init() {
            // A child that dies early must not take the test process down with SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
        }

        /// `srt-live-transmit "srt://127.0.0.1:PORT?mode=listener" file://con`, its stdout collected on a Dispatch
        /// thread (blocking reads stay off the Swift pool); killed by its pid when released.
        final class ListenerProcess: Sendable {
            let child: ChildProcess
            private let collected = Output()

            private final class Output: Sendable {
                let bytes = Mutex<[UInt8]>([])
            }

            init(port: Int, passphrase: String? = nil) throws {
                var uri = "srt://127.0.0.1:\(port)?mode=listener"
                if let passphrase { uri += "&passphrase=\(passphrase)" }
                child = try ChildProcess(SRTCallerInteropTests.tool, ["-q", uri, "file://con"])
                let reader = child.standardOutput.fileHandleForReading
                let collected = self.collected
                DispatchQueue.global().async {
                    while true {
                        let data = reader.availableData
                        if data.isEmpty { return }
                        collected.bytes.withLock { $0 += data }
                    }
                }
            }

            /// What it wrote to stdout so far.
            var output: [UInt8] { collected.bytes.withLock { $0 } }

            /// Waits until the child holds `port` (a UDP bind of ours fails with EADDRINUSE), bounded to 5 s;
            /// srt_listen follows its bind at once.
            func waitUntilBound(_ port: Int) async -> Bool {
                await TestSupport.eventually(within: .seconds(5)) {
                    var bindErrno: Int32 = 0
                    let descriptor = SRTAddress(validHost: "127.0.0.1", port: port).withSocketAddress {
                        csrt_udp_bind($0, $1, &bindErrno)
                    }
                    if descriptor >= 0 { close(descriptor) }
                    return descriptor < 0 && bindErrno == EADDRINUSE
                }
            }

            /// Sends `signal` to the child's pid and waits (bounded) until it is gone; SIGKILL if it lingers.
            func kill(with signal: Int32) async {
                _ = Glibc.kill(child.pid, signal)
                _ = await TestSupport.eventually(within: .seconds(3)) { !child.process.isRunning }
                child.terminate()
            }

            deinit { child.terminate() }
        }

        /// `count` bytes of a pattern that exposes reordering, loss and duplication; `seed` tells payloads apart.
        static func payload(_ count: Int, seed: UInt8) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8 &+ Int(seed)) }
        }

        /// Sends `payload` and 8 KiB of padding in 1316-byte messages, paced like a stream: srt-live-transmit
        /// writes stdout through a 4 KiB stdio buffer that only a clean exit flushes, so the padding pushes the
        /// payload out.
        static func send(_ payload: [UInt8], on connection: SRTConnection) async throws {
            let padded = payload + [UInt8](repeating: 0xA5, count: 8 * 1316)
            for (index, start) in stride(from: 0, to: padded.count, by: 1316).enumerated() {
                try await connection.send(Array(padded[start..<min(start + 1316, padded.count)]))
                if index % 16 == 15 { try await Task.sleep(for: .milliseconds(4)) }
            }
        }

        /// Waits until `listener` wrote at least `payload.count` bytes, then checks they are `payload`.
        static func expectReceived(_ payload: [UInt8], by listener: ListenerProcess) async {
            let complete = await TestSupport.eventually(within: .seconds(10)) {
                listener.output.count >= payload.count
            }
            let received = Array(listener.output.prefix(payload.count))
            #expect(complete, "\(received.count) of \(payload.count) bytes")
            #expect(
                SRTLiveTransmitInteropTests.firstDifference(received, payload) == nil,
                "first difference at \(String(describing: SRTLiveTransmitInteropTests.firstDifference(received, payload)))"
            )
        }

        @Test(
            "the listener is killed and started again on the same port: the caller reconnects and the bytes flow again",
            .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
        func listenerRestarts() async throws {
            let port = CallerTesting.freePort()
            let first = try ListenerProcess(port: port)
            #expect(await first.waitUntilBound(port))
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(
                    SRTAddress(validHost: "127.0.0.1", port: port), streamID: "publish/interop"),
                policy: try CallerTesting.policy(initial: .milliseconds(100)))
            let log = CallerTesting.EventLog(caller.supervisor.events())
            let running = Task { try await caller.run() }
            defer { running.cancel() }

            let connection = try await CallerTesting.next(caller.connections, within: .seconds(10), "a connection")
            let before = Self.payload(100 * 1316, seed: 1)
            try await Self.send(before, on: connection)
            await Self.expectReceived(before, by: first)

            let killed = ContinuousClock.now
            await first.kill(with: SIGKILL)
            let second = try ListenerProcess(port: port)
            #expect(await second.waitUntilBound(port))
            let restarted = ContinuousClock.now - killed
            // Killed, the listener says nothing: libsrt declares the connection broken after its peer-idle timeout
            // (measured 5.0 s; at least 16 expirations of its 300 ms EXP timer), then the caller reconnects within its
            // backoff. (SIGTERM is no faster: srt-live-transmit was measured still running 3 s later.)
            let reconnection = try await CallerTesting.next(
                caller.connections, within: .seconds(15), "a connection to the restarted listener")
            let reconnected = ContinuousClock.now - killed
            print("CALLER-INTEROP listener back after \(restarted), caller reconnected after \(reconnected)")
            #expect(reconnection !== connection)
            #expect(connection.isClosed)
            #expect(reconnected < .seconds(8))

            let after = Self.payload(100 * 1316, seed: 2)
            try await Self.send(after, on: reconnection)
            await Self.expectReceived(after, by: second)

            let runFailures = log.failures.filter { $0.phase == .run }
            #expect(runFailures.count == 1)
            #expect((runFailures.first?.error as? SRTError)?.code == .connectionLost)
            #expect(runFailures.first?.decision == .restart)
            // Start failures while the listener was away (1001) were retried, never fatal.
            #expect(log.failures.allSatisfy { $0.decision == .restart })
        }

        @Test(
            "a wrong passphrase against srt-live-transmit is fatal: SupervisorError .fatal with the SRTError inside",
            .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
        func wrongPassphrase() async throws {
            let port = CallerTesting.freePort()
            let listener = try ListenerProcess(port: port, passphrase: "rightsecret123")
            #expect(await listener.waitUntilBound(port))
            let caller = SRTCaller(
                configuration: try CallerTesting.configuration(
                    SRTAddress(validHost: "127.0.0.1", port: port), passphrase: SRTPassphrase("wrongsecret456")),
                policy: try CallerTesting.policy())
            try await SRTCallerTests.expectFatal(
                caller, code: .connectionRejected, rejectReason: Int32(SRT_REJ_BADSECRET.rawValue))
            #expect(listener.child.process.isRunning)
        }
    }
}
