import CSRT
import Foundation
import Supervisor
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault E's bookkeeping half: after closing listeners and connections with accepts and receives pending,
    /// every descriptor and thread libsrt and the adapter made is gone again. In a child process, so that no
    /// other suite's sockets move the counts.
    @Suite("Close leaves nothing behind")
    struct CloseCleanupTests {
        @Test(
            "pending accepts and receives end within 100 ms of close or cancellation; fds and threads return to the baseline"
        )
        func nothingLeftBehind() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await CloseCleanupScenario.run()
            }
            TestSupport.expectChild(result, marker: "CLEANUP")
        }
    }
}

enum CloseCleanupScenario {
    static func run() async -> Never {
        await TestSupport.runChild(scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        // Warm up what lives for the whole process: the runtime, the reactor thread, the pool, the GC thread.
        let warmup = try SRTListenSocket.open(TestSupport.loopback())
        _ = await warmup.probe()
        warmup.close()
        try await Task.sleep(for: .seconds(3))
        let baselineThreads = TestSupport.threadCount
        let baselineDescriptors = TestSupport.descriptorCount

        for round in 0..<3 {
            let listener = try SRTListenSocket.open(TestSupport.loopback(ipv6: round == 1))
            let (caller, accepted) = try await TestSupport.pair(listener)
            let pendingAccept = Task { try await listener.accept() }
            let pendingReceive = Task { try await accepted.receive() }
            let pendingCallerReceive = Task { try await caller.receive() }
            let waiting = await TestSupport.waitersArrived(on: listener.socket, accepted.socket, caller.socket)
            check(waiting, "the accept and both receives are waiting")
            let started = ContinuousClock.now
            listener.close()
            accepted.close()
            caller.close()
            for task in [pendingReceive, pendingCallerReceive] {
                check((try? await task.value) == nil, "a pending receive ended with an error")
            }
            check((try? await pendingAccept.value) == nil, "the pending accept ended with an error")
            let took = ContinuousClock.now - started
            print("CLEANUP round \(round): close woke 3 waiters in \(took)")
            check(took < .milliseconds(100), "woken within 100 ms, took \(took)")
        }

        // Cancellation instead of close: the waiting tasks are cancelled, then everything is closed.
        for round in 0..<2 {
            let listener = try SRTListenSocket.open(TestSupport.loopback(ipv6: round == 1))
            let (caller, accepted) = try await TestSupport.pair(listener)
            let pending = [
                Task { _ = try await listener.accept() },
                Task { _ = try await accepted.receive() },
                Task { _ = try await caller.receive() },
            ]
            let waiting = await TestSupport.waitersArrived(on: listener.socket, accepted.socket, caller.socket)
            check(waiting, "the accept and both receives are waiting")
            let started = ContinuousClock.now
            for task in pending { task.cancel() }
            for task in pending {
                check((try? await task.value) == nil, "a cancelled wait ended with an error")
            }
            let took = ContinuousClock.now - started
            print("CLEANUP cancel round \(round): cancelling woke 3 waiters in \(took)")
            check(took < .milliseconds(100), "cancelled within 100 ms, took \(took)")
            listener.close()
            accepted.close()
            caller.close()
        }

        // A whole server: cancelling run() while a connection is read ends the run within 100 ms.
        let server = SRTServer(configuration: try TestSupport.loopback())
        let running = Task { try await server.run() }
        let up = await TestSupport.eventually(within: .seconds(3)) { server.supervisor.state.isReady }
        check(up, "server ready")
        let address = try server.localAddress.orThrow("server address")
        let serverCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "cleanup"))
        var connections = server.connections.makeAsyncIterator()
        let served = try await connections.next().orThrow("served connection")
        let reading = Task {
            for try await _ in served.messages {}
        }
        check(await TestSupport.waitersArrived(on: served.socket), "the served connection is being read")
        let stopping = ContinuousClock.now
        running.cancel()
        reading.cancel()
        _ = try? await running.value
        _ = try? await reading.value
        let stopTook = ContinuousClock.now - stopping
        print("CLEANUP server: cancelling run() and a pending read took \(stopTook)")
        check(stopTook < .milliseconds(100), "server stopped within 100 ms, took \(stopTook)")
        check(await connections.next() == nil, "the connection stream ended")
        served.close()
        serverCaller.close()

        // libsrt releases closed sockets and their multiplexers (threads, UDP sockets) from its GC thread. The
        // baseline may hold transient Dispatch workers, so "back" means "not above it".
        let settled = await TestSupport.eventually(within: .seconds(10)) {
            TestSupport.threadCount <= baselineThreads && TestSupport.descriptorCount <= baselineDescriptors
        }
        print(
            "CLEANUP threads \(baselineThreads) → \(TestSupport.threadCount), "
                + "fds \(baselineDescriptors) → \(TestSupport.descriptorCount)")
        check(settled, "threads and descriptors back to the baseline")
        print("CLEANUP OK")
    }
}
