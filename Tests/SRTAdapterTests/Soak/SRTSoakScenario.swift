import CSRT
import Foundation
import Logging
import Supervisor
import Synchronization

@testable import SRTAdapter

/// The soak's child process: two `SRTServer`s, a live stream into each, fault B on one of them every
/// ``SRTSoakSettings/faultInterval``.
///
/// - The faulted server's stream comes from an `SRTCaller`, which reconnects after each fault on its own (libsrt's
///   peer-idle timer tells it, about 5 s later); the healthy server's from one plain connection that must never
///   notice anything.
/// - Each fault: /dev/null over the faulted listener's UDP socket (`Docs/libsrt-failure-modes.md, "How the tests inject
///   faults"`). Checked: the connection that died with it is reported and closed, a new caller is accepted, the
///   publisher resumes.
/// - After each recovery (just before the next fault) and at the end: descriptors and threads, which must stay flat
///   apart from the one multiplexer libsrt keeps of each death (``ProcessSample``), and resident memory, reported.
/// - At the end: every healthy message arrived, intact and in order.
enum SRTSoakScenario {
    /// The streams' latency: a live contribution link's, and enough that a stall of the loaded 2-core machine does
    /// not make libsrt drop a late packet (what would look like a loss and is not the one this soak looks for).
    static let latency = Duration.seconds(1)
    static let publisherStreamID = "publish/soak"
    /// Fault → a new caller accepted. The goal is milliseconds; the bound is loose for a loaded machine.
    static let recoveryBound = Duration.seconds(5)
    /// Fault → the publisher's first message on a new connection: libsrt's ~5 s peer-idle timer plus the backoff.
    static let resumeBound = Duration.seconds(20)
    /// How far descriptors and threads may wander between the samples (a socket in libsrt's garbage collector
    /// holds one descriptor and two threads).
    static let wander = 6
    /// How far the final counts may end above the first: less than one per fault from the short form's 4 faults on.
    static let finalSlack = 2

    static func run() async -> Never {
        // The soak's own length (30 s, or 30 min in the long form) and two minutes more.
        await TestSupport.runChild(within: SRTSoakSettings.current.duration + .seconds(120), scenario)
    }

    static func scenario() async throws {
        let settings = SRTSoakSettings.current
        let check = SocketReplacedScenario.check
        let quiet = Logger(label: "soak", factory: { _ in SwiftLogNoOpLogHandler() })
        // The death signal works at any level; the log lines of 180 deaths would only bury the figures.
        SRTRuntime.start(logger: quiet, logLevel: .critical)
        let listening = try SRTListenerConfiguration(host: "127.0.0.1", port: 0, latency: latency)
        let faulted = SRTServer(configuration: listening, name: "soak-faulted", logger: quiet)
        let healthy = SRTServer(configuration: listening, name: "soak-healthy", logger: quiet)
        let faultedEvents = faulted.supervisor.events()
        let healthyLog = CallerTesting.EventLog(healthy.supervisor.events())
        let servers = [Task { try await faulted.run() }, Task { try await healthy.run() }]
        defer { for server in servers { server.cancel() } }
        _ = try await Loopback.SRTServerTests.waitFor(faultedEvents, Loopback.SRTServerTests.isReady)
        check(await TestSupport.eventually(within: .seconds(5)) { healthy.supervisor.state.isReady }, "healthy ready")
        let faultedAddress = try faulted.localAddress.orThrow("the faulted server's address")
        let healthyAddress = try healthy.localAddress.orThrow("the healthy server's address")

        // The faulted server's side: the publisher's connections are received, probes handed to the fault loop.
        let faultedLedger = SoakLedger()
        let (resumptions, resumptionSink) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
        let (probes, probeSink) = AsyncStream.makeStream(of: SRTConnection.self)
        let publisherSide = Mutex<SRTConnection?>(nil)
        let strangers = Mutex<[String]>([])
        let faultedAcceptor = Task {
            await withDiscardingTaskGroup { group in
                for await connection in faulted.connections {
                    if connection.streamID.hasPrefix("probe/") {
                        // Closed by the fault loop once the caller saw it connected: closed at once, it may break
                        // before the caller's connect returned, which then reports a refusal.
                        probeSink.yield(connection)
                    } else if connection.streamID == publisherStreamID {
                        publisherSide.withLock { $0 = connection }
                        group.addTask {
                            _ = await faultedLedger.receive(from: connection) { resumptionSink.yield(.now) }
                        }
                    } else {
                        strangers.withLock { $0.append(connection.streamID) }
                        connection.close()
                    }
                }
            }
        }
        defer { faultedAcceptor.cancel() }

        // The healthy stream: one plain connection, received on the healthy server.
        let healthyCaller = try await SRTConnection.connect(
            try caller(to: healthyAddress, streamID: "healthy/soak"))
        let healthySide = try await CallerTesting.next(healthy.connections, "the healthy connection accepted")
        let healthyLedger = SoakLedger()
        let healthyReceiving = Task { await healthyLedger.receive(from: healthySide) }
        let healthySender = SoakSender()
        let healthySending = Task { await healthySender.stream(on: healthyCaller, every: settings.messageInterval) }

        // The faulted stream: a reconnecting caller, which sends on each new connection until it breaks.
        let publisher = SRTCaller(
            configuration: try caller(to: faultedAddress, streamID: publisherStreamID), name: "soak-publisher",
            policy: try publisherPolicy(), logger: quiet)
        let publisherLog = CallerTesting.EventLog(publisher.supervisor.events())
        let publisherRunning = Task { try await publisher.run() }
        defer { publisherRunning.cancel() }
        let faultedSender = SoakSender()
        let faultedSending = Task {
            for await connection in publisher.connections {
                if await faultedSender.stream(on: connection, every: settings.messageInterval) == nil { return }
            }
        }
        var lastResumed = try await CallerTesting.next(
            resumptions, within: .seconds(10), "the publisher's first message")

        let started = ContinuousClock.now
        let baseline = await ProcessSample.settled(within: .seconds(1))
        report(
            "SOAK start: \(settings.faults) faults, one every \(settings.faultInterval) for \(settings.duration); \(baseline)"
        )
        var samples = [baseline]
        var reportTimes: [Duration] = []
        var readyTimes: [Duration] = []
        var recoveries: [Duration] = []
        var resumes: [Duration] = []
        var lostConnections = 0
        var due = started + settings.faultInterval * 0.5
        for fault in 1...settings.faults {
            try await Task.sleep(until: due)

            // The fault, and what the test itself knows died with it: the publisher's connection.
            let victims = publisherSide.withLock { $0 }.map { [$0] } ?? []
            let listener = try faulted.supervisor.resource.current.orThrow("the listener before fault \(fault)")
            let injected = ContinuousClock.now
            check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2 for fault \(fault)")

            let lost = try await CallerTesting.next(faulted.lostConnections, "the lost report of fault \(fault)")
            let reported = ContinuousClock.now
            check(
                Set(lost.map(\.socket)) == Set(victims.map(\.socket)),
                "fault \(fault): reported \(lost), expected \(victims)")
            check(victims.allSatisfy(\.isClosed), "fault \(fault): the dead connection is closed")
            lostConnections += lost.count
            let failure = try await Loopback.SRTServerTests.waitFor(faultedEvents) { event in
                if case .failed = event { true } else { false }
            }
            if case .failed(let details) = failure {
                check((details.error as? SRTError)?.code == .receiveThreadDied, "fault \(fault): \(details)")
            }
            _ = try await Loopback.SRTServerTests.waitFor(faultedEvents, Loopback.SRTServerTests.isReady)
            let ready = ContinuousClock.now

            // Back means a new caller is accepted, not a state that says so.
            let probe = try await SRTConnection.connect(
                try caller(to: faultedAddress, streamID: "probe/\(fault)"))
            let accepted = try await CallerTesting.next(probes, "the caller after fault \(fault) accepted")
            let recovered = ContinuousClock.now
            probe.close()
            accepted.close()
            check(accepted.streamID == "probe/\(fault)", "fault \(fault): accepted \(accepted)")
            check(recovered - injected < recoveryBound, "fault \(fault): recovered in \(recovered - injected)")

            lastResumed = try await CallerTesting.next(
                resumptions, within: resumeBound, "the publisher resuming after fault \(fault)")
            reportTimes.append(reported - injected)
            readyTimes.append(ready - injected)
            recoveries.append(recovered - injected)
            resumes.append(lastResumed - injected)
            // The rest of the interval (at least a second of the resumed stream), then the sample, with both streams
            // running.
            let last = fault == settings.faults
            due = max(
                started + settings.faultInterval * (Double(fault) + (last ? 0 : 0.5)), lastResumed + .seconds(1))
            try await Task.sleep(until: due)
            let sample = await ProcessSample.settled(atMost: baseline, within: .seconds(last ? 3 : 2))
            samples.append(sample)
            let healthyNow = healthyLedger.figures
            report(
                "SOAK fault \(fault)/\(settings.faults) at \(seconds(injected - started)) s: \(lost.count) connection "
                    + "reported in \(milliseconds(reported - injected)) ms, ready in "
                    + "\(milliseconds(ready - injected)) ms, a new caller accepted in "
                    + "\(milliseconds(recovered - injected)) ms, publisher resumed in \(seconds(lastResumed - injected)) "
                    + "s; healthy \(healthyNow.messages) messages, \(healthyNow.skipped) skipped; \(sample)")
        }
        let final = samples.last!
        let elapsed = ContinuousClock.now - started

        // Stop sending, and wait for the healthy stream's last messages (its latency) before judging it.
        healthySender.stop()
        faultedSender.stop()
        let healthyFailure = await healthySending.value
        _ = await TestSupport.eventually(within: latency + .seconds(5)) {
            healthyLedger.figures.messages >= Int(healthySender.sent)
        }
        let healthyStatistics = try? healthySide.statistics()
        let healthyEnd = healthyLedger.figures
        let healthySent = healthySender.sent
        let faultedEnd = faultedLedger.figures
        let healthyBroke = healthySide.state != .connected
        healthyCaller.close()
        healthySide.close()
        let healthyReceiveFailure = await healthyReceiving.value

        let descriptors = samples.map(\.liveDescriptors)
        let threads = samples.map(\.liveThreads)
        let retiredDescriptors = final.nullDescriptors - baseline.nullDescriptors
        let orphanedThreads = final.orphanedSendThreads - baseline.orphanedSendThreads
        let resident = samples.map(\.residentMiB)
        report(
            "SOAK summary: \(settings.faults) faults in \(seconds(elapsed)) s "
                + "(SRT_SOAK_SECONDS=\(settings.duration.components.seconds) "
                + "SRT_SOAK_FAULT_INTERVAL=\(settings.faultInterval.components.seconds))")
        report(
            "SOAK recovery (fault → a new caller accepted): \(spread(recoveries)) ms; fault → lost report "
                + "\(spread(reportTimes)) ms; fault → ready \(spread(readyTimes)) ms")
        report(
            "SOAK publisher resumed after each fault: \(spread(resumes, scale: 1)) s; "
                + "\(publisherLog.failures.count) breaks, \(faultedEnd.connections) connections delivered")
        report(
            "SOAK healthy stream: \(healthySent) messages sent, \(healthyEnd.messages) received "
                + "(\(healthyEnd.bytes) bytes), \(Int(healthySent) * SoakMessage.size - healthyEnd.bytes) bytes lost, "
                + "\(healthyEnd.skipped) skipped, \(healthyEnd.outOfOrder) out of order, \(healthyEnd.damaged) damaged; "
                + "libsrt: \(healthyStatistics.map { "\($0.packetsReceivedLost) lost, \($0.packetsReceivedDropped) dropped, \($0.packetsRetransmitted) retransmitted" } ?? "no statistics")"
        )
        report(
            "SOAK faulted stream: \(faultedSender.sent) messages sent, \(faultedEnd.messages) received, "
                + "\(Int(faultedSender.sent) - faultedEnd.messages) lost with the dead sockets, "
                + "\(faultedEnd.skipped) skipped within a connection, \(faultedEnd.outOfOrder) out of order, "
                + "\(faultedEnd.damaged) damaged; \(lostConnections) connections reported lost")
        report(
            "SOAK process: fds \(baseline.liveDescriptors) → \(final.liveDescriptors) (min \(descriptors.min()!), "
                + "max \(descriptors.max()!)), threads \(baseline.liveThreads) → \(final.liveThreads) (min "
                + "\(threads.min()!), max \(threads.max()!)); kept by libsrt for its dead multiplexers: "
                + "\(retiredDescriptors) descriptors on /dev/null, \(orphanedThreads) send threads; resident "
                + "\(baseline.residentMiB) → \(final.residentMiB) MiB (max \(resident.max()!) MiB, "
                + "\(String(format: "%.2f", Double(final.residentMiB - baseline.residentMiB) / Double(settings.faults))) "
                + "MiB per fault)")

        check(healthyFailure == nil, "the healthy sender failed: \(healthyFailure.map { "\($0)" } ?? "")")
        check(
            healthyReceiveFailure == nil, "the healthy receiver failed: \(healthyReceiveFailure.map { "\($0)" } ?? "")")
        check(!healthyBroke, "the healthy connection broke")
        check(healthyLog.failures.isEmpty, "the healthy server restarted: \(healthyLog.failures)")
        check(healthyEnd.messages == Int(healthySent), "healthy messages: \(healthyEnd.messages) of \(healthySent)")
        check(healthyEnd.bytes == Int(healthySent) * SoakMessage.size, "healthy bytes: \(healthyEnd.bytes)")
        check(
            healthyEnd.skipped == 0 && healthyEnd.outOfOrder == 0 && healthyEnd.damaged == 0
                && healthyEnd.highest == healthySent - 1,
            "the healthy stream in order and intact: \(healthyEnd)")
        check(faultedEnd.outOfOrder == 0 && faultedEnd.damaged == 0, "the faulted stream in order: \(faultedEnd)")
        check(faultedEnd.connections == settings.faults + 1, "one publisher connection per fault: \(faultedEnd)")
        check(lostConnections == settings.faults, "one connection reported lost per fault: \(lostConnections)")
        check(strangers.withLock { $0 }.isEmpty, "unexpected connections: \(strangers.withLock { $0 })")
        check(
            final.liveDescriptors <= baseline.liveDescriptors + finalSlack
                && final.liveThreads <= baseline.liveThreads + finalSlack,
            "descriptors or threads grew: \(baseline) → \(final)")
        check(
            retiredDescriptors <= settings.faults && orphanedThreads <= settings.faults,
            "more kept than one multiplexer per fault: \(retiredDescriptors) descriptors, \(orphanedThreads) threads")
        check(
            descriptors.max()! - descriptors.min()! <= wander && threads.max()! - threads.min()! <= wander,
            "descriptors or threads wandered: \(descriptors), \(threads)")
        _ = await faultedSending.value
        print("SOAK OK")
    }

    /// A caller configuration for `address`, with the soak's latency.
    static func caller(to address: SRTAddress, streamID: String) throws -> SRTCallerConfiguration {
        try SRTCallerConfiguration(
            host: address.host, port: address.port, streamID: streamID, latency: latency, connectTimeout: .seconds(2))
    }

    /// The publisher's backoff: from 50 ms, at most 1 s, stable after 1 s. With the caller's default (stable after
    /// 10 s) a connection that a fault breaks every 10 s never counts as stable, and its delay doubles to 15 s.
    static func publisherPolicy() throws -> RestartPolicy {
        try RestartPolicy(
            backoff: Backoff.exponential(initial: .milliseconds(50), multiplier: 2, maximum: .seconds(1)).jitter(.full),
            classifier: SRTConnector.classifier, stableUptime: .seconds(1))
    }

    /// A line of the child's output, also appended to the file `SRT_SOAK_PROGRESS` names, if any: the parent
    /// sees the child's output only when it ends, and a long run should show its progress as it goes.
    static func report(_ line: String) {
        print(line)
        guard let path = ProcessInfo.processInfo.environment["SRT_SOAK_PROGRESS"],
            let file = FileHandle(forWritingAtPath: path) ?? createdFile(path)
        else { return }
        defer { try? file.close() }
        _ = try? file.seekToEnd()
        try? file.write(contentsOf: Data((line + "\n").utf8))
    }

    private static func createdFile(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }

    /// "p50 / p99 / max" of `values`, in milliseconds (`scale` 1000) or seconds (`scale` 1).
    static func spread(_ values: [Duration], scale: Double = 1_000) -> String {
        guard !values.isEmpty else { return "none" }
        let sorted = values.map { CallerTesting.seconds($0) * scale }.sorted()
        func rank(_ fraction: Double) -> Double {
            sorted[min(sorted.count - 1, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)]
        }
        let format = scale == 1 ? "%.2f" : "%.1f"
        return [rank(0.5), rank(0.99), sorted.last!].map { String(format: format, $0) }.joined(separator: " / ")
    }

    static func milliseconds(_ duration: Duration) -> String {
        String(format: "%.1f", CallerTesting.seconds(duration) * 1_000)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", CallerTesting.seconds(duration))
    }
}
