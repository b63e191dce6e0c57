import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// `SRTRuntime.leakedMultiplexerCount` says how many multiplexers libsrt keeps for good in the process, and
    /// `SRTLeakLimit` bounds them; a caller's own multiplexer whose receive thread died with its connection on it is
    /// kept just the same.
    @Suite("Attack: a caller's leaked multiplexer")
    struct CallerLeakAttackTests {
        @Test("a caller's receive thread dies with its connection: the kept multiplexer is counted")
        func callerLeakCounted() async throws {
            // In a child process (an exit test): the death leaks a multiplexer for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await CallerLeakScenario.run()
            }
            TestSupport.expectChild(result, marker: "CALLER LEAK")
        }
    }
}

enum CallerLeakScenario {
    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        let listener = try SRTListenSocket.open(try TestSupport.loopback())
        defer { listener.close() }
        let (caller, accepted) = try await TestSupport.pair(listener, streamID: "caller-leak")
        defer { accepted.close() }
        let descriptor = try caller.udpDescriptor.orThrow("the caller's own UDP descriptor")
        // The fault: the caller's UDP socket becomes /dev/null, its receive thread dies at its next read.
        check(csrt_retire_fd(descriptor) == 0, "dup2")
        check(
            await TestSupport.eventually(within: .seconds(5)) { SRTRuntime.receiveThreadDeathCount >= 1 },
            "the caller's receive thread died")
        caller.close()
        // Counted when the connection that kept it closes, as a listener's retire counts its own.
        let counted = await TestSupport.eventually(within: .seconds(5)) { SRTRuntime.leakedMultiplexerCount == 1 }
        // What libsrt keeps: a send thread without its receive thread, still there once the collector freed whatever
        // it frees (a dead multiplexer without connections goes within a few seconds).
        let freed = await TestSupport.eventually(within: .seconds(8)) { LeakLimitScenario.orphanedSendThreads == 0 }
        let kept = LeakLimitScenario.orphanedSendThreads
        print(
            "CALLER LEAK libsrt keeps \(kept) dead multiplexer(s) (freed: \(freed)); the adapter counts "
                + "\(SRTRuntime.leakedMultiplexerCount)")
        check(kept == 1, "libsrt keeps the caller's dead multiplexer: \(kept) send threads without a receive thread")
        check(counted, "leakedMultiplexerCount \(SRTRuntime.leakedMultiplexerCount), libsrt keeps \(kept)")
        print("CALLER LEAK OK")
    }
}
