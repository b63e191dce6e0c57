import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault E's bookkeeping half: after closing listeners and connections with accepts and receives pending,
    /// every descriptor and thread libsrt and the adapter made is gone again. In a child process, so that no
    /// other suite's sockets move the counts.
    @Suite("Close leaves nothing behind")
    struct CloseCleanupTests {
        @Test("pending accepts and receives end within 100 ms of close; fds and threads return to the baseline")
        func nothingLeftBehind() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await CloseCleanupScenario.run()
            }
            let output = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
            for line in output.split(separator: "\n") where line.hasPrefix("CLEANUP") || line.hasPrefix("FAIL") {
                print(line)
            }
            #expect(output.contains("CLEANUP OK"), "\(output)")
        }
    }
}

enum CloseCleanupScenario {
    static func run() async -> Never {
        do {
            try await scenario()
        } catch {
            print("FAIL: \(error)")
            TestSupport.exitChild(2)
        }
        TestSupport.exitChild(0)
    }

    static func scenario() async throws {
        let check = FaultBScenario.check
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
            try await Task.sleep(for: .milliseconds(50))
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
