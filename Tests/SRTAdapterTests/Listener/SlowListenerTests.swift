import CSRT
import Foundation
import Logging
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// After a receive-thread death elsewhere in the process every listener checks itself; a live one that is only
    /// slow (CPU-starved, its receive thread waiting on access-control decisions) must not be taken for dead.
    @Suite("A slow listener is not retired")
    struct SlowListenerTests {
        @Test("busy loops on both cores, a slow access control under callers, 20 deaths elsewhere: no restart, no loss")
        func slowListenerSurvives() async throws {
            // In a child process (an exit test): 20 deaths leak 20 multiplexers for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await SlowListenerScenario.run()
            }
            TestSupport.expectChild(result, marker: "SLOW LISTENER")
        }
    }
}

enum SlowListenerScenario {
    static let trials = 20
    /// Each caller's decision: most of the default 50 ms deadline, so the receive thread waits on it.
    static let decision = Duration.milliseconds(40)

    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(110), scenario)
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        SRTRuntime.start(
            logger: Logger(label: "srt", factory: { _ in SwiftLogNoOpLogHandler() }), logLevel: .critical)
        let access = SRTAccessControl { request in
            if request.streamID == "live" { return .accept }
            usleep(UInt32(decision.components.attoseconds / 1_000_000_000_000))
            return .reject(.forbidden)
        }
        let server = SRTServer(
            configuration: try TestSupport.loopback(accessControl: access), name: "live",
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
        check(original.receiveThread != nil, "the listener's receive thread was told apart at bind")
        let lost = Mutex(0)
        let lostWatcher = Task { for await batch in server.lostConnections { lost.withLock { $0 += batch.count } } }
        defer { lostWatcher.cancel() }

        // The live stream: a message every 10 ms, counted where it arrives.
        var accepted = server.connections.makeAsyncIterator()
        let caller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "live"))
        defer { caller.close() }
        let connection = try await accepted.next().orThrow("the live connection")
        defer { connection.close() }
        let received = Atomic<Int>(0)
        let receiver = Task {
            while true {
                _ = try await connection.receive()
                received.add(1, ordering: .relaxed)
            }
        }
        defer { receiver.cancel() }
        let running2 = Atomic(true)
        defer { running2.store(false, ordering: .relaxed) }
        let sender = Task {
            // Bounded by the scenario's time limit and the flag.
            while running2.load(ordering: .relaxed) {
                try await caller.send([UInt8](repeating: 7, count: 188))
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        defer { sender.cancel() }

        // Busy loops on both cores, and callers that keep the receive thread waiting on decisions.
        let spinning = Atomic(true)
        defer { spinning.store(false, ordering: .relaxed) }
        for _ in 0..<2 {
            Thread.detachNewThread {
                let end = ContinuousClock.now + .seconds(100)
                var x = 0
                while spinning.load(ordering: .relaxed) && ContinuousClock.now < end { x &+= 1 }
                _ = x
            }
        }
        let knockers = (0..<3).map { index in
            Task {
                let knock = try SRTCallerConfiguration(
                    host: address.host, port: address.port, streamID: "knock/\(index)", connectTimeout: .seconds(1))
                while !Task.isCancelled { try? await SRTConnection.connect(knock).close() }
            }
        }
        defer { for knocker in knockers { knocker.cancel() } }

        // Each death names its thread: how long that thread stays listed after its line (polled, so an upper bound).
        let deaths = SRTRuntime.receiveThreadDeaths()
        var deathIterator = deaths.makeAsyncIterator()
        var lingering: [Duration] = []
        for trial in 1...trials {
            // A death on another listener of the process (fault B).
            let victim = try SRTListenSocket.open(try TestSupport.loopback())
            // Its thread told apart at bind, or (when the knockers' callers started threads meanwhile) by a handshake.
            check(await victim.probe(timeout: .seconds(3)).isAlive, "trial \(trial): the victim answers")
            check(csrt_retire_fd(victim.udpDescriptor) == 0, "dup2")
            check(
                await TestSupport.eventually(within: .seconds(5)) {
                    SRTRuntime.receiveThreadDeathCount >= trial
                }, "death \(trial) seen")
            let death = try await deathIterator.next().orThrow("death \(trial) delivered")
            let thread = try death.thread.orThrow("death \(trial) names its thread")
            check(thread == victim.receiveThread, "death \(trial) names the victim's receive thread")
            let watchEnd = ContinuousClock.now + .seconds(2)
            // Bounded by the deadline.
            while ReceiveThreads.isRunning(thread) && ContinuousClock.now < watchEnd {
                try await Task.sleep(for: .milliseconds(1))
            }
            lingering.append(death.instant.duration(to: .now))
            victim.markDead()
            await victim.retire()
            // The live listener's check after this death ended: it survived it, or it failed.
            let checked = await TestSupport.eventually(within: .seconds(5)) {
                server.supervisor.resource.deathsSurvived >= trial || !failures.withLock { $0.isEmpty }
            }
            check(checked, "trial \(trial): the live listener's check ended")
            check(
                failures.withLock { $0.isEmpty },
                "trial \(trial): the live listener was taken for dead: \(failures.withLock { $0 })")
        }
        let before = received.load(ordering: .relaxed)
        check(
            await TestSupport.eventually(within: .seconds(3)) { received.load(ordering: .relaxed) > before + 10 },
            "the live stream still flows")
        check(server.supervisor.resource.current === original, "the same listener runs")
        check(lost.withLock { $0 } == 0, "no connection lost")
        lingering.sort()
        print(
            "SLOW LISTENER a dead thread listed after its death line (polled every 1 ms): p50 "
                + "\(SocketReplacedScenario.milliseconds(lingering[lingering.count / 2])) ms, max "
                + "\(SocketReplacedScenario.milliseconds(lingering[lingering.count - 1])) ms")
        print(
            "SLOW LISTENER \(trials) deaths elsewhere with both cores busy and \(access.statistics): the live listener kept its connection (\(received.load(ordering: .relaxed)) messages)"
        )
        print("SLOW LISTENER OK")
    }
}
