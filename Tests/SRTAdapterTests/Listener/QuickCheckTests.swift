import CSRT
import Foundation
import Glibc
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// The quick liveness check must never retire a live listener: not one whose queue a flood keeps full, not one
    /// whose receive thread waits for a core. The deaths it must find are in ``UnloggedDeathTests``.
    @Suite("The quick liveness check on live listeners")
    struct QuickCheckTests {
        @Test("a live listener reads the check's datagram: alive by its thread, and by the datagram when unknown")
        func liveListener() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            #expect(listener.receiveThread != nil)
            #expect(try await listener.quickCheck(window: .milliseconds(20)) == .alive)
            listener.forgetReceiveThread()
            #expect(try await listener.quickCheck(window: .milliseconds(20)) == .alive)
            // The datagram was read and dropped: nothing waits in the queue.
            #expect(listener.receiveQueueIsDrained)
        }

        @Test("the check's byte reaches a socket nobody reads, and stays there")
        func byteArrives() async throws {
            var error: Int32 = 0
            let address = try SRTAddress(host: "127.0.0.1", port: 0)
            let descriptor = address.withSocketAddress { csrt_udp_bind($0, $1, &error) }
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            let bound = address.with(port: Int(csrt_local_port(descriptor)))
            #expect(bound.withSocketAddress { csrt_udp_poke($0, $1) } == 0)
            #expect(await TestSupport.eventually(within: .seconds(2)) { csrt_unread_bytes(descriptor) == 1 })
        }

        @Test(
            "20 live listeners checked every 20 ms, threads unknown, under a datagram flood with every core busy: none retired",
            .timeLimit(.minutes(1)))
        func noneRetiredUnderLoad() async throws {
            let health = try SRTHealthCheck(probeInterval: .seconds(600), quickCheckInterval: .milliseconds(20))
            let servers = try (0..<20).map { index in
                SRTServer(configuration: try TestSupport.loopback(), name: "live-\(index)", health: health)
            }
            let failures = Failures()
            var runs: [Task<Void, any Error>] = []
            for server in servers {
                let events = server.supervisor.events()
                runs.append(Task { try await server.run() })
                _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
                // Every later failure is a live listener retired.
                Task {
                    for await event in events {
                        if case .failed(let details) = event {
                            failures.list.withLock { $0.append("\(server.supervisor.name): \(details.error)") }
                        }
                    }
                }
            }
            defer { for run in runs { run.cancel() } }
            let ports = servers.compactMap { $0.localAddress?.port }
            #expect(ports.count == 20)
            let flooding = ListenerLivenessTests.Switch()
            defer { flooding.turnOff() }
            // One flood thread over every port, and a busy loop per core: bounded to 5 s whatever happens.
            Thread {
                let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
                defer { close(fd) }
                let garbage = [UInt8](repeating: 0xA5, count: 64)
                let end = ContinuousClock.now + .seconds(5)
                var next = 0
                while flooding.isOn, ContinuousClock.now < end {
                    _ = TestSupport.sendToLoopback(fd, port: ports[next % ports.count], garbage)
                    next &+= 1
                }
            }.start()
            for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
                Thread {
                    let end = ContinuousClock.now + .seconds(5)
                    var spins: UInt64 = 0
                    while flooding.isOn, ContinuousClock.now < end { spins &+= 1 }
                }.start()
            }
            let before = servers.map { $0.supervisor.resource.quickCheckCounts.all }
            let end = ContinuousClock.now + .seconds(4)
            while ContinuousClock.now < end {
                // A probe's handshake teaches a listener its thread again: forgotten again, so that the checks keep
                // relying on the datagram.
                for server in servers { server.supervisor.resource.current?.forgetReceiveThread() }
                try await Task.sleep(for: .milliseconds(50))
            }
            flooding.turnOff()
            let counts = servers.map { $0.supervisor.resource.quickCheckCounts }
            let checks = zip(counts, before).map { $0.all - $1 }
            let unsure = counts.map(\.unsure).reduce(0, +)
            print("quick checks under flood and load: \(checks.reduce(0, +)) in 4 s, \(unsure) left to a probe")
            // Each listener was checked many times (every 20 ms when it gets a core), none retired.
            #expect(checks.allSatisfy { $0 >= 10 }, "checks per listener: \(checks)")
            #expect(failures.list.withLock { $0 }.isEmpty)
            #expect(servers.allSatisfy { $0.supervisor.state.isReady })
        }

        /// What the servers' event watchers saw fail.
        final class Failures: Sendable {
            let list = Mutex<[String]>([])
        }
    }
}
