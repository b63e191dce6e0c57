import CSRT
import Foundation
import SRTTestSupport
import Supervisor
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault D's start failures through ``SRTServer`` that need no namespace: a port held by another process
    /// (transient, backs off, comes up when it is free) and a configuration the kernel refuses (fatal, no retry).
    /// The absent address is in ``AddressLossTests``.
    @Suite("SRTServer start failures")
    struct SRTServerStartFailureTests {
        @Test(
            "a port held by another process (srt-live-transmit listening) backs off; the server comes up once it exits",
            .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
        func portHeldByAnotherProcess() async throws {
            // Below the ephemeral range: a caller of another test could otherwise take the port between this choice
            // and srt-live-transmit's bind, which then never holds it.
            let port = try FreePort.loopback()
            let holder = try ChildProcess(
                SRTLiveTransmitInteropTests.tool, ["-q", "srt://127.0.0.1:\(port)?mode=listener", "file://con"])
            defer { holder.terminate() }
            // Held once a bind of ours fails.
            let held = await TestSupport.eventually(within: .seconds(10)) {
                var error: Int32 = 0
                let fd = SRTAddress(validHost: "127.0.0.1", port: port).withSocketAddress {
                    csrt_udp_bind($0, $1, &error)
                }
                if fd >= 0 { close(fd) }
                return fd < 0 && error == EADDRINUSE
            }
            try #require(held, "srt-live-transmit holds port \(port)")

            let server = SRTServer(
                configuration: try SRTListenerConfiguration(host: "127.0.0.1", port: port),
                policy: try RestartPolicy(backoff: .constant(.milliseconds(50))))
            let recorded = EventLog()
            let events = server.supervisor.events()
            let recorder = Task {
                for await event in events { recorded.append(event) }
            }
            let running = Task { try await server.run() }
            defer {
                running.cancel()
                recorder.cancel()
            }
            #expect(await TestSupport.eventually(within: .seconds(3)) { recorded.failures.count >= 3 })
            #expect(!server.supervisor.state.isReady)
            for failure in recorded.failures {
                #expect(failure.phase == .start)
                #expect(failure.decision == .restart)
                #expect((failure.error as? SRTError)?.systemErrno == EADDRINUSE, "\(failure.error)")
            }
            let freed = ContinuousClock.now
            holder.terminate()
            #expect(await TestSupport.eventually(within: .seconds(3)) { server.supervisor.state.isReady })
            print("START-FAILURE port held by another process: ready \(freed.duration(to: .now)) after it exited")
            #expect(server.localAddress?.port == port)
            let listener = try #require(server.supervisor.resource.current)
            #expect(await listener.probe().isAlive)
        }

        @Test(
            "a configuration the kernel refuses (a link-local IPv6 address without scope): fatal, one attempt, no retry",
            arguments: ["fe80::1", "::ffff:127.0.0.1"])
        func invalidConfigurationGivesUp(host: String) async throws {
            let configuration = try SRTListenerConfiguration(host: host, port: 0)
            let server = SRTServer(
                configuration: configuration, policy: try RestartPolicy(backoff: .constant(.milliseconds(10))))
            let recorded = EventLog()
            let events = server.supervisor.events()
            let recorder = Task {
                for await event in events { recorded.append(event) }
            }
            defer { recorder.cancel() }
            let started = ContinuousClock.now
            let error = await #expect(throws: SupervisorError.self) {
                try await TestSupport.within(.seconds(3)) { try await server.run() }
            }
            #expect(started.duration(to: .now) < .seconds(1))
            #expect(error?.code == .fatal)
            #expect(error?.phase == .start)
            let cause = error?.lastFailure as? SRTError
            #expect(cause?.code == .socketFailure)
            #expect(cause?.systemErrno == EINVAL)
            #expect(cause?.failureDecision == .giveUp)
            #expect(await TestSupport.eventually { recorded.failures.count == 1 }, "one failure")
            try await Task.sleep(for: .milliseconds(100))
            #expect(recorded.failures.count == 1, "no retry")
            if case .stopped(.gaveUp) = server.supervisor.state {
            } else {
                Issue.record("state \(server.supervisor.state)")
            }
        }

        @Test("a value out of range never reaches a server: a typed ConfigurationError naming the option")
        func invalidValueIsTyped() {
            let error = #expect(throws: ConfigurationError.self) {
                try SRTListenerConfiguration(host: "127.0.0.1", port: 9000, latency: .seconds(120))
            }
            #expect(error?.option == "latency")
            #expect(error?.code == .outOfRange)
        }
    }
}
