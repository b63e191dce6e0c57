import CSRT
import Foundation
import Logging
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Deaths elsewhere in the process while publishers start sending on a live listener: the listener's check reads
    /// its receive thread's name, which libsrt changes for a moment each time it starts a connection's TSBPD thread.
    @Suite("Attack: a live listener retired after deaths elsewhere")
    struct LiveListenerRetiredAttackTests {
        @Test("deaths elsewhere while callers start sending: the live listener keeps running and its connection")
        func liveListenerKeepsRunning() async throws {
            // In a child process (an exit test): a retired listener leaks a multiplexer for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await LiveListenerRetiredScenario.run()
            }
            TestSupport.expectChild(result, marker: "LIVE LISTENER")
        }
    }
}

enum LiveListenerRetiredScenario {
    static let callers = 40

    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(90), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        SRTRuntime.start(
            logger: Logger(label: "srt", factory: { _ in SwiftLogNoOpLogHandler() }), logLevel: .critical)
        let server = SRTServer(
            configuration: try TestSupport.loopback(), name: "live",
            logger: Logger(label: "live", factory: { _ in SwiftLogNoOpLogHandler() }))
        let events = server.supervisor.events()
        let failures = Mutex<[String]>([])
        let watcher = Task {
            for await event in events {
                if case .failed = event { failures.withLock { $0.append("\(event)") } }
            }
        }
        defer { watcher.cancel() }
        let running = Task { try await server.run() }
        defer { running.cancel() }
        check(await TestSupport.eventually(within: .seconds(5)) { server.supervisor.state.isReady }, "ready")
        let address = try server.localAddress.orThrow("address")
        let original = try server.supervisor.resource.current.orThrow("the listener")
        // Known from the bind: every verdict below comes from the witness, none from a probe.
        let thread = try original.receiveThread.orThrow("the listener's receive thread")
        let lost = Mutex(0)
        let lostWatcher = Task { for await batch in server.lostConnections { lost.withLock { $0 += batch.count } } }
        defer { lostWatcher.cancel() }
        let accepted = Mutex<[SRTConnection]>([])
        let collecting = Task {
            for await connection in server.connections { accepted.withLock { $0.append(connection) } }
        }
        defer { collecting.cancel() }

        // Receive-thread deaths of another multiplexer of the process, as its receive thread would log them (the
        // thread named is none of this process's), one every 100 µs on a plain thread: each makes the live listener
        // check itself. Bounded by the flag and 60 s.
        let dying = Atomic(true)
        defer { dying.store(false, ordering: .relaxed) }
        Thread.detachNewThread {
            let end = ContinuousClock.now + .seconds(60)
            while dying.load(ordering: .relaxed) && ContinuousClock.now < end {
                SRTRuntime.recordReceiveThreadDeath(message: "INTERRUPTING worker (test)", thread: 0x3FFF_FFF0)
                usleep(100)
            }
        }

        // Publishers that connect and send, one after another, until the listener fails (at most `callers`).
        var connected: [SRTConnection] = []
        defer { for connection in connected { connection.close() } }
        for index in 0..<callers where failures.withLock({ $0.isEmpty }) && lost.withLock({ $0 }) == 0 {
            let configuration = try SRTCallerConfiguration(
                host: address.host, port: address.port, streamID: "publisher-\(index)", latency: .milliseconds(40),
                connectTimeout: .seconds(3))
            // A caller that cannot connect (the listener was retired meanwhile) ends the publishing; the checks say
            // why.
            guard let caller = try? await SRTConnection.connect(configuration) else {
                print("LIVE LISTENER publisher \(index) could not connect")
                break
            }
            connected.append(caller)
            try await caller.send([UInt8](repeating: 0x47, count: 188))
        }
        dying.store(false, ordering: .relaxed)
        let survived = server.supervisor.resource.deathsSurvived
        // Whatever the verdict, the thread it was about still runs: the listener was alive.
        let stillRunning = ReceiveThreads.isRunning(thread)
        print("LIVE LISTENER its receive thread \(thread) still runs after the verdicts: \(stillRunning)")
        check(
            failures.withLock { $0.isEmpty },
            "the live listener was taken for dead (\(survived) deaths survived in all, across restarts): \(failures.withLock { $0 })"
        )
        check(lost.withLock { $0 } == 0, "connections lost: \(lost.withLock { $0 })")
        check(server.supervisor.resource.current === original, "the same listener runs")
        check(SRTRuntime.leakedMultiplexerCount == 0, "leaked multiplexers: \(SRTRuntime.leakedMultiplexerCount)")
        for connection in accepted.withLock({ $0 }) { connection.close() }
        print("LIVE LISTENER \(callers) publishers through \(survived) deaths elsewhere")
        print("LIVE LISTENER OK")
    }
}
