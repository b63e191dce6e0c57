import CSRT
import Foundation
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// libsrt keeps a dead multiplexer that carried connections for the life of the process; the adapter counts them,
    /// and an ``SRTServer`` with an ``SRTLeakLimit`` ends its run once the process keeps more.
    @Suite("Leaked multiplexers")
    struct LeakLimitTests {
        @Test("a death with connections is counted, one without is not; past the limit run() throws 90004")
        func limitEndsTheRun() async throws {
            // In a child process (an exit test): deaths leak multiplexers for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await LeakLimitScenario.run()
            }
            TestSupport.expectChild(result, marker: "LEAK")
        }
    }
}

@Suite("SRTLeakLimit")
struct SRTLeakLimitTests {
    @Test("0 to 1,000,000 allowed; anything else is a ConfigurationError naming the option")
    func validation() throws {
        for bad in [-1, 1_000_001, Int.min, Int.max] {
            #expect(throws: ConfigurationError.self) { try SRTLeakLimit(maxLeakedMultiplexers: bad) }
            do {
                _ = try SRTLeakLimit(maxLeakedMultiplexers: bad)
            } catch {
                #expect(error.option == "maxLeakedMultiplexers")
            }
        }
        let limit = try SRTLeakLimit(maxLeakedMultiplexers: 3)
        #expect(!limit.isExceeded(by: 3) && limit.isExceeded(by: 4))
        #expect(try SRTLeakLimit(maxLeakedMultiplexers: 0).isExceeded(by: 1))
        #expect(!SRTLeakLimit.unlimited.isExceeded(by: .max))
        #expect("\(limit)" == "at most 3 leaked multiplexers")
    }
}

enum LeakLimitScenario {
    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    /// libsrt's send threads without a receive thread in this process: one per dead multiplexer it keeps.
    static var orphanedSendThreads: Int {
        ProcessSample.now().orphanedSendThreads
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        let milliseconds = SocketReplacedScenario.milliseconds
        let policy = try RestartPolicy(
            backoff: Backoff.exponential(initial: .milliseconds(5), multiplier: 2, maximum: .seconds(1)))
        let server = SRTServer(
            configuration: try TestSupport.loopback(), name: "leaky", policy: policy,
            leakLimit: try SRTLeakLimit(maxLeakedMultiplexers: 1))
        let events = server.supervisor.events()
        let counts = SRTRuntime.leakedMultiplexerCounts()
        // Every count the stream gives, in order (the first is the count at subscription).
        let seen = Mutex<[Int]>([])
        let watcher = Task { for await count in counts { seen.withLock { $0.append(count) } } }
        defer { watcher.cancel() }
        let running = Task { try await server.run() }
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        let address = try server.localAddress.orThrow("address")
        var connections = server.connections.makeAsyncIterator()

        // 1. A death with no connection on the socket: libsrt frees that multiplexer; nothing is counted.
        print("LEAK step: fault without a connection")
        let idle = try server.supervisor.resource.current.orThrow("listener")
        check(csrt_retire_fd(idle.udpDescriptor) == 0, "dup2")
        _ = try await Loopback.SRTServerTests.waitFor(events) { event in
            if case .failed = event { true } else { false }
        }
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        check(SRTRuntime.leakedMultiplexerCount == 0, "a death without connections is not counted")
        // libsrt's collector tears the dead multiplexer down a few seconds later: its send thread goes too.
        check(
            await TestSupport.eventually(within: .seconds(10)) { orphanedSendThreads == 0 },
            "the idle dead multiplexer freed (\(orphanedSendThreads) send threads without a receive thread)")

        // 2. and 3. Deaths with a live connection: each multiplexer is kept, and counted; the second passes the limit.
        print("LEAK step: faults with a connection")
        var callers: [SRTConnection] = []
        defer { for caller in callers { caller.close() } }
        var failedAfter: Duration?
        for fault in 1...2 {
            callers.append(
                try await SRTConnection.connect(
                    try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "live\(fault)")))
            let accepted = try await connections.next().orThrow("accepted \(fault)")
            let listener = try server.supervisor.resource.current.orThrow("listener \(fault)")
            let injected = ContinuousClock.now
            check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2 \(fault)")
            check(
                await TestSupport.eventually(within: .seconds(2)) { SRTRuntime.leakedMultiplexerCount == fault },
                "fault \(fault) counted, got \(SRTRuntime.leakedMultiplexerCount)")
            check(
                await TestSupport.eventually(within: .seconds(2)) { accepted.isClosed },
                "the connection of fault \(fault) closed")
            if fault == 1 {
                _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
                check(SRTRuntime.leakedMultiplexerCount == 1, "one kept")
            } else {
                do {
                    try await TestSupport.within(.seconds(2)) { try await running.value }
                    check(false, "run() returned past the limit")
                } catch let error as SRTError {
                    failedAfter = injected.duration(to: .now)
                    check(error.code == .leakLimitExceeded, "the run ended with 90004: \(error)")
                    check(error.operation == .leakLimit, "operation: \(error.operation)")
                }
            }
        }
        check(server.supervisor.state.label == "stopped" || !server.supervisor.state.isReady, "the listener stopped")
        check(SRTRuntime.leakedMultiplexerCount == 2, "two kept")
        check(
            await TestSupport.eventually(within: .seconds(1)) { seen.withLock { $0 } == [0, 1, 2] },
            "the stream gave 0, 1, 2: \(seen.withLock { $0 })")
        // What the adapter counts is what libsrt keeps.
        check(
            await TestSupport.eventually(within: .seconds(5)) { orphanedSendThreads == 2 },
            "two send threads without a receive thread, got \(orphanedSendThreads)")
        print(
            "LEAK fault past the limit → run() threw 90004 in \(failedAfter.map(milliseconds) ?? "-") ms; "
                + "kept multiplexers 2, orphaned send threads \(orphanedSendThreads)")
        print("LEAK OK")
    }
}
