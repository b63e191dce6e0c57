import CSRT
import Foundation
import SRTTestSupport
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Fault A, the production error through the real kernel path: the listener's UDP socket gets `IP_RECVERR`,
    /// then one raw ICMP "net unreachable" quoting a packet from its port makes the next `recvmsg` fail with
    /// ENETUNREACH and the receive thread exit (`Docs/libsrt-failure-modes.md`, "How the tests inject faults").
    ///
    /// Needs root (a raw socket) and runs in a private network namespace the test creates and deletes, with only
    /// `lo` in it: the test binary itself is started there (`ip netns exec`), running ``ICMPUnreachableChild``.
    @Suite("Fault A: ICMP net unreachable in a private network namespace")
    struct ICMPUnreachableTests {
        static let enabled = NamespaceChild.isAvailable

        @Test(
            "20 trials: signal, retire, rebind, fault → verified alive measured; 10 more found with no log line",
            .enabled(if: enabled))
        func twentyTrials() async throws {
            let text = try await NamespaceChild.run(
                filter: "ICMPUnreachableChild", setup: [["ip", "link", "set", "lo", "up"]])
            for line in text.split(separator: "\n") where line.contains("FAULT-A") || line.contains("FAIL") {
                print(line)
            }
            #expect(text.contains("FAULT-A OK"), "\(text)")
        }
    }
}

/// The child's side of ``Loopback/ICMPUnreachableTests``; enabled only inside the namespace.
@Suite("ICMPUnreachableChild")
struct ICMPUnreachableChild {
    @Test(.enabled(if: NamespaceChild.isChild("ICMPUnreachableChild")))
    func scenario() async {
        do {
            try await ICMPUnreachableScenario.run()
        } catch {
            print("FAIL: \(error)")
        }
        NamespaceChild.end()
    }
}

enum ICMPUnreachableScenario {
    static func run() async throws {
        let check = SocketReplacedScenario.check
        let milliseconds = SocketReplacedScenario.milliseconds
        let policy = try RestartPolicy(
            backoff: Backoff.exponential(initial: .milliseconds(5), multiplier: 2, maximum: .seconds(1)))
        let server = SRTServer(configuration: try TestSupport.loopback(), name: "victim", policy: policy)
        let bystander = SRTServer(configuration: try TestSupport.loopback(), name: "bystander")
        let events = server.supervisor.events()
        let bystanderEvents = bystander.supervisor.events()
        let running = Task { try await server.run() }
        let bystanderRunning = Task { try await bystander.run() }
        _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
        _ = try await Loopback.SRTServerTests.waitFor(bystanderEvents, Loopback.SRTServerTests.isReady)
        let address = try server.localAddress.orThrow("address")
        let bystanderAddress = try bystander.localAddress.orThrow("bystander address")
        var connections = server.connections.makeAsyncIterator()
        var bystanderConnections = bystander.connections.makeAsyncIterator()
        // The callers stand for peers in other processes: they share one multiplexer (one bound port in this
        // namespace of the test's own), so that freeing theirs, about a second after each trial, does not hold libsrt's
        // global lock in the server's process, as no remote peer's would (measured: 70-80 ms at a time, which the
        // recovery of a later trial then waited behind).
        let shared = try SRTAddress(host: "127.0.0.1", port: 40999)
        let otherCaller = try await SRTConnection.connect(
            try SRTCallerConfiguration(
                host: bystanderAddress.host, port: bystanderAddress.port, streamID: "other", bindAddress: shared))
        let other = try await bystanderConnections.next().orThrow("bystander accepted")
        // The bystander streams throughout: one numbered message every 5 ms, arrivals timed.
        let arrivals = Mutex<[(sequence: UInt32, at: ContinuousClock.Instant)]>([])
        let sendTimes = Mutex<[ContinuousClock.Instant]>([])
        let sender = Task {
            var sequence: UInt32 = 0
            while !Task.isCancelled {
                try await otherCaller.send(withUnsafeBytes(of: sequence.bigEndian, Array.init))
                sendTimes.withLock { $0.append(ContinuousClock.now) }
                sequence += 1
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let receiver = Task {
            for try await message in other.messages where message.count == 4 {
                let sequence = message.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
                arrivals.withLock { $0.append((sequence, ContinuousClock.now)) }
            }
        }
        // Delivery lags sending by the latency (TSBPD): start the faults once the stream flows.
        let flowing = await TestSupport.eventually(within: .seconds(3)) { arrivals.withLock { $0.count } >= 20 }
        check(flowing, "the bystander's stream flows")
        var windows: [Range<ContinuousClock.Instant>] = []
        let lostStream = server.lostConnections
        let lostReports = Mutex<[[SRTConnection]]>([])
        let lostWatcher = Task {
            for await report in lostStream { lostReports.withLock { $0.append(report) } }
        }

        var recoveries: [Duration] = []
        // Each trial's fault → failure reported, → ready again, → verified alive: where a slow one spent its time.
        var phases: [(failed: Duration, ready: Duration, alive: Duration)] = []
        // `SRT_FAULT_TRIALS` for more (50 for the figures in Docs/srt-fault-model.md).
        let trials = ProcessInfo.processInfo.environment["SRT_FAULT_TRIALS"].flatMap(Int.init) ?? 20
        for trial in 0..<trials {
            // One live connection per trial: it dies with the socket and must be reported.
            let victimCaller = try await SRTConnection.connect(
                try SRTCallerConfiguration(
                    host: address.host, port: address.port, streamID: "victim\(trial)", bindAddress: shared))
            let victim = try await connections.next().orThrow("victim accepted")
            let instance = try server.supervisor.resource.current.orThrow("current listener")
            var one: Int32 = 1
            check(setsockopt(instance.udpDescriptor, 0, 11, &one, 4) == 0, "IP_RECVERR")  // IPPROTO_IP, IP_RECVERR

            let injected = ContinuousClock.now
            try ICMPFault.sendNetUnreachable(port: UInt16(address.port))
            // A caller that starts connecting at the moment of the fault.
            let duringFault = Task {
                try await SRTConnection.connect(
                    try SRTCallerConfiguration(
                        host: address.host, port: address.port, streamID: "during\(trial)", connectTimeout: .seconds(3),
                        bindAddress: shared)
                )
            }
            _ = try await Loopback.SRTServerTests.waitFor(events) { event in
                if case .failed = event { true } else { false }
            }
            let failedAt = ContinuousClock.now
            _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
            let readyAt = ContinuousClock.now
            // Retired before the restart: /dev/null over the deaf socket's number (FIONREAD fails on it).
            check(csrt_unread_bytes(instance.udpDescriptor) == -1, "trial \(trial): the deaf socket retired")
            let fresh = try server.supervisor.resource.current.orThrow("fresh listener")
            let probe = await fresh.probe()
            check(probe.isAlive, "trial \(trial): fresh listener alive: \(probe)")
            recoveries.append(ContinuousClock.now - injected)
            phases.append((failedAt - injected, readyAt - injected, ContinuousClock.now - injected))
            windows.append(injected..<ContinuousClock.now)

            let caller = try await duringFault.value
            let accepted = try await connections.next().orThrow("accepted the caller of the fault's moment")
            check(accepted.streamID == "during\(trial)", "trial \(trial): the fault-time caller got through")
            try await caller.send([UInt8(trial)])
            let received = try await TestSupport.within(.seconds(3)) { try await accepted.receive() }
            check(received == [UInt8(trial)], "trial \(trial): data after recovery")
            check(victim.isClosed, "trial \(trial): victim closed")

            victimCaller.close()
            caller.close()
            accepted.close()
        }
        check(bystander.supervisor.state.isReady, "bystander never restarted")
        sender.cancel()
        _ = try? await sender.value
        try await Task.sleep(for: .milliseconds(200))
        receiver.cancel()
        let received = arrivals.withLock { $0 }
        let sent = sendTimes.withLock { $0.count }
        check(
            zip(received, received.dropFirst()).allSatisfy { $0.sequence < $1.sequence },
            "the bystander's messages arrive in order")
        let perWindow = windows.map { window in received.filter { window.contains($0.at) }.count }
        let sentPerWindow = windows.map { window in sendTimes.withLock { $0 }.filter { window.contains($0) }.count }
        let gaps = zip(received, received.dropFirst()).map { $0.at.duration(to: $1.at) }
        let longestGap = gaps.max() ?? .zero
        print(
            "FAULT-A bystander: \(received.count) of \(sent) messages received in order, longest gap between "
                + "arrivals \(milliseconds(longestGap)) ms; per fault→alive window sent \(sentPerWindow), received "
                + "\(perWindow)")
        // Every message arrives, in order, and the stream never pauses for long. Gaps of up to 140 ms were measured on
        // a loaded 2-core machine, in the same windows as stalls of the sending task itself.
        print("FAULT-A control thread's slowest item: \(SRTControlThread.shared.slowestItem)")
        check(longestGap < .milliseconds(500), "the bystander's stream never paused 500 ms: \(longestGap)")
        check(received.count == sent, "the bystander lost nothing: \(received.count) of \(sent)")
        let reported = await TestSupport.eventually { lostReports.withLock { $0.count } == trials }
        check(reported, "\(trials) lost reports, got \(lostReports.withLock { $0.count })")
        check(lostReports.withLock { $0.allSatisfy { $0.count == 1 } }, "one victim per report")

        let sorted = recoveries.sorted()
        let p50 = sorted[sorted.count / 2]
        let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
        print(
            "FAULT-A \(trials) trials fault→verified alive: min \(milliseconds(sorted[0])) ms, p50 \(milliseconds(p50)) ms, "
                + "p99 \(milliseconds(p99)) ms, max \(milliseconds(sorted.last!)) ms")
        for slow in phases.sorted(by: { $0.alive > $1.alive }).prefix(3) {
            print(
                "FAULT-A slow trial: failure reported \(milliseconds(slow.failed)) ms, ready \(milliseconds(slow.ready)) "
                    + "ms, verified alive \(milliseconds(slow.alive)) ms after the fault")
        }
        // The goal (p99 ≤ 50 ms) is a measurement, reported above and in Docs/srt-fault-model.md; the check only
        // fails a recovery that is broken, not one slowed down by a loaded CI machine sharing two cores.
        check(p99 <= .seconds(1), "p99 ≤ 1 s (goal 50 ms)")
        try await unloggedTrials(server, events: events, address: address)

        let stopping = ContinuousClock.now
        running.cancel()
        bystanderRunning.cancel()
        try await running.value
        try await bystanderRunning.value
        lostWatcher.cancel()
        print("FAULT-A stop took \(milliseconds(ContinuousClock.now - stopping)) ms")
        otherCaller.close()
        print("FAULT-A OK")
    }

    /// The same fault with libsrt's log routed elsewhere (as a process with its own log handler does): no death line,
    /// so the quick check must find the listener deaf, within a second every time.
    static func unloggedTrials(
        _ server: SRTServer, events: AsyncStream<SupervisorEvent>, address: SRTAddress
    ) async throws {
        let check = SocketReplacedScenario.check
        let milliseconds = SocketReplacedScenario.milliseconds
        srt_setloghandler(nil) { _, _, _, _, _, _ in }
        let (lines, unlogged) = (SRTRuntime.receiveThreadDeathCount, SRTRuntime.unloggedDeathCount)
        var found: [Duration] = []
        for trial in 0..<10 {
            let instance = try server.supervisor.resource.current.orThrow("current listener")
            var one: Int32 = 1
            check(setsockopt(instance.udpDescriptor, 0, 11, &one, 4) == 0, "IP_RECVERR")  // IPPROTO_IP, IP_RECVERR
            let injected = ContinuousClock.now
            try ICMPFault.sendNetUnreachable(port: UInt16(address.port))
            let failure: SupervisorEvent
            do {
                failure = try await Loopback.SRTServerTests.waitFor(events) { event in
                    if case .failed = event { true } else { false }
                }
            } catch {
                let gone = instance.receiveThreadIsGone.map { "\($0)" } ?? "unknown"
                print("FAULT-A unlogged trial \(trial) not found; receive thread gone: \(gone)")
                throw error
            }
            found.append(ContinuousClock.now - injected)
            if case .failed(let details) = failure {
                check((details.error as? SRTError)?.code == .receiveThreadDied, "unlogged \(trial): \(details)")
            }
            _ = try await Loopback.SRTServerTests.waitFor(events, Loopback.SRTServerTests.isReady)
            // A fault at any phase of the quick check's schedule.
            try await Task.sleep(for: .milliseconds(Int.random(in: 0..<250)))
        }
        check(SRTRuntime.receiveThreadDeathCount == lines, "no death line reached the adapter")
        check(SRTRuntime.unloggedDeathCount == unlogged + 10, "each unlogged death recorded once")
        let sorted = found.sorted()
        print(
            "FAULT-A with no log line, 10 trials fault→failed: p50 \(milliseconds(sorted[5])) ms, "
                + "max \(milliseconds(sorted[9])) ms")
        check(sorted[9] < .seconds(1), "every unlogged death found within 1 s: \(sorted)")
    }
}
