import CSRT
import Foundation
import Supervisor
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault B (a UDP socket replaced by /dev/null) in a process that routes libsrt's log elsewhere: no death line
    /// reaches the adapter, so only the quick check can find the deaf listener. In a child process, like every test
    /// where a receive thread dies (see ``SocketReplacedTests``).
    @Suite("A receive thread's death with no log line")
    struct UnloggedDeathTests {
        @Test("a deaf listener whose receive thread is known is found within a second, by the thread")
        func foundByThread() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await UnloggedDeathScenario.run(threadForgotten: false)
            }
            TestSupport.expectChild(result, marker: "UNLOGGED")
        }

        @Test("a death found with no log line costs other listeners nothing: no probe, no lost connection")
        func othersUntouched() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(UnloggedDeathScenario.bystander)
            }
            TestSupport.expectChild(result, marker: "UNLOGGED")
        }

        @Test("a deaf listener whose receive thread is not known is found within a second, by the datagram and a probe")
        func foundByDatagram() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await UnloggedDeathScenario.run(threadForgotten: true)
            }
            TestSupport.expectChild(result, marker: "UNLOGGED")
        }
    }
}

enum UnloggedDeathScenario {
    /// How many faults in a row; `SRT_UNLOGGED_TRIALS` for more (50 for the figures in Docs/srt-fault-model.md).
    static let trials = ProcessInfo.processInfo.environment["SRT_UNLOGGED_TRIALS"].flatMap(Int.init) ?? 10

    static func run(threadForgotten: Bool) async -> Never {
        if threadForgotten {
            await TestSupport.runChild { try await scenario(threadForgotten: true) }
        } else {
            await TestSupport.runChild { try await scenario(threadForgotten: false) }
        }
    }

    /// A victim whose thread is not known dies with no line, found by the datagram and a probe; a bystander with a
    /// connection must neither probe itself nor lose the connection.
    static func bystander() async throws {
        let check = SocketReplacedScenario.check
        let health = try SRTHealthCheck(probeInterval: .seconds(600))
        let victim = SRTServer(configuration: try TestSupport.loopback(), name: "victim", health: health)
        let bystander = SRTServer(configuration: try TestSupport.loopback(), name: "bystander", health: health)
        let events = victim.supervisor.events()
        let bystanderEvents = bystander.supervisor.events()
        let running = [Task { try await victim.run() }, Task { try await bystander.run() }]
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        _ = try await Loopback.SRTServerTests.waitFor(bystanderEvents, Loopback.SRTServerTests.isReady)
        let address = try bystander.localAddress.orThrow("bystander address")
        var accepted = bystander.connections.makeAsyncIterator()
        let caller = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "bystander"))
        let connection = try await accepted.next().orThrow("bystander accepted")
        srt_setloghandler(nil) { _, _, _, _, _, _ in }
        let instance = try victim.supervisor.resource.current.orThrow("victim listener")
        instance.forgetReceiveThread()
        check(csrt_retire_fd(instance.udpDescriptor) == 0, "dup2")
        _ = try await Loopback.SRTServerTests.waitFor(events) { event in
            if case .failed = event { true } else { false }
        }
        check(SRTRuntime.hasSeenReceiveThreadDeath, "the death is recorded for the process")
        // Time for a probe of the bystander to have run, had the death been sent to it.
        try await Task.sleep(for: .milliseconds(300))
        check(bystander.supervisor.resource.deathsSurvived == 0, "the bystander never checked itself")
        check(bystander.supervisor.state.isReady, "the bystander never restarted")
        try await caller.send(Array("still here".utf8))
        let received = try await TestSupport.within(.seconds(3)) { try await connection.receive() }
        check(received == Array("still here".utf8), "the bystander's connection carries on")
        for task in running { task.cancel() }
        for task in running { try await task.value }
        caller.close()
        print("UNLOGGED OK")
    }

    static func scenario(threadForgotten: Bool) async throws {
        let check = SocketReplacedScenario.check
        let milliseconds = SocketReplacedScenario.milliseconds
        let label = threadForgotten ? "UNLOGGED thread unknown" : "UNLOGGED thread known"
        let policy = try RestartPolicy(
            backoff: Backoff.exponential(initial: .milliseconds(5), multiplier: 2, maximum: .seconds(1)))
        // No periodic handshake probe within the test: only the quick check can find the death.
        let health = try SRTHealthCheck(probeInterval: .seconds(600))
        let server = SRTServer(
            configuration: try TestSupport.loopback(), name: "victim", policy: policy, health: health)
        let events = server.supervisor.events()
        let running = Task { try await server.run() }
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        // From here libsrt's log goes elsewhere, as in a process that installs its own handler.
        srt_setloghandler(nil) { _, _, _, _, _, _ in }
        var toFailed: [Duration] = []
        var toReady: [Duration] = []
        for trial in 1...trials {
            let instance = try server.supervisor.resource.current.orThrow("listener of trial \(trial)")
            if threadForgotten {
                instance.forgetReceiveThread()
                check(instance.receiveThread == nil, "the thread is forgotten")
            } else {
                check(instance.receiveThread != nil, "trial \(trial): the listener knows its receive thread")
            }
            let injected = ContinuousClock.now
            check(csrt_retire_fd(instance.udpDescriptor) == 0, "dup2")
            let failure = try await Loopback.SRTServerTests.waitFor(events) { event in
                if case .failed = event { true } else { false }
            }
            toFailed.append(ContinuousClock.now - injected)
            if case .failed(let details) = failure {
                check((details.error as? SRTError)?.code == .receiveThreadDied, "death reported: \(details)")
            }
            _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
            toReady.append(ContinuousClock.now - injected)
            // The quick check runs on a schedule: a fault at any phase of it, not always right after a check.
            try await Task.sleep(for: .milliseconds(Int.random(in: 0..<250)))
        }
        // No line reached the adapter; the runtime knows of the deaths all the same (the process must skip
        // libsrt's cleanup at exit).
        // Each death recorded once, as found with no line: none came.
        check(SRTRuntime.receiveThreadDeathCount == 0, "no death line reached the adapter")
        let recorded = SRTRuntime.unloggedDeathCount
        check(recorded == trials, "\(recorded) deaths recorded of \(trials)")
        let fresh = try server.supervisor.resource.current.orThrow("fresh listener")
        check(await fresh.probe().isAlive, "the last listener answers")
        func summary(_ durations: [Duration]) -> String {
            let sorted = durations.sorted()
            let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
            return "p50 \(milliseconds(sorted[sorted.count / 2])) ms, p99 \(milliseconds(p99)) ms, "
                + "max \(milliseconds(sorted.last!)) ms"
        }
        print("\(label) \(trials) trials fault→failed: \(summary(toFailed)); fault→ready: \(summary(toReady))")
        check(toFailed.allSatisfy { $0 < .seconds(1) }, "every death found within 1 s: \(toFailed)")
        running.cancel()
        try await running.value
        print("UNLOGGED OK")
    }
}
