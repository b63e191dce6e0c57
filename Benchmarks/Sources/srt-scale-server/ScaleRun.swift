import Glibc
import Logging
import SRTAdapter
import Synchronization

/// Connection scale: one `SRTServer` accepts `connections` callers (`callers.c`), reads each on its own task through
/// `connection.messages`, and reports this process's threads and resident memory at four moments (baseline, all
/// accepted, while streaming, end), the loss per connection against `messages`, and the delivery times.
enum ScaleRun {
    static func run(connections: Int, messages: Int, deadline: Duration) async throws -> Int32 {
        let server = SRTServer(
            configuration: try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, backlog: 1_024, maxConnections: connections + 64),
            name: "srt-scale", logger: Logger(label: "srt-scale", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await server.run() }
        defer { running.cancel() }
        guard let port = await ServerReadiness.port(of: server) else {
            print("FAIL the server did not get ready within 10 s")
            return 1
        }
        let baseline = ProcessFigures.now()
        print("FIGURES phase=baseline \(baseline)")
        print("READY port=\(port)")
        // Standard output is a file: the script waits for this line.
        fflush(nil)
        let started = ContinuousClock.now

        let work = Task { () -> ([ConnectionTally], ProcessFigures?, Duration?) in
            await withTaskGroup(of: ConnectionTally.self) { group in
                var accepted = 0
                var allAccepted: ProcessFigures?
                var acceptedAfter: Duration?
                for await connection in server.connections {
                    group.addTask { await ConnectionTally.read(connection, messages: messages) }
                    accepted += 1
                    if accepted == connections {
                        acceptedAfter = ContinuousClock.now - started
                        allAccepted = ProcessFigures.now()
                        break
                    }
                }
                var tallies: [ConnectionTally] = []
                for await tally in group { tallies.append(tally) }
                return (tallies, allAccepted, acceptedAfter)
            }
        }
        // The bound on the whole run: the readers see a cancellation and report what they have.
        let watchdog = Task {
            try await Task.sleep(for: deadline)
            work.cancel()
        }
        let sampler = Task { await StreamingSampler.sample(every: .seconds(1), baseline: baseline) }
        let (tallies, allAccepted, acceptedAfter) = await work.value
        watchdog.cancel()
        sampler.cancel()
        let streaming = await sampler.value
        let end = ProcessFigures.now()

        if let allAccepted, let acceptedAfter {
            print("FIGURES phase=accepted \(allAccepted) after_s=\(acceptedAfter.seconds)")
        } else {
            print("FAIL only \(tallies.count) of \(connections) connections accepted before the deadline")
        }
        if let peak = streaming.peak, let middle = streaming.middle {
            print("FIGURES phase=streaming-middle \(middle)")
            print(
                "FIGURES phase=streaming-peak threads=\(peak.threads) "
                    + "threads_besides_tsbpd=\(streaming.timeline.max() ?? 0) rss_kib=\(peak.residentKiB) "
                    + "thread_names=\(peak.namesText)")
            let extra = streaming.extraThreads.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
            print(
                "STREAMING samples=\(streaming.timeline.count) cpu_percent=\(streaming.cpuPercent) "
                    + "threads_besides_tsbpd=\(streaming.timeline.map(String.init).joined(separator: ",")) "
                    + "extra_threads=\(extra.isEmpty ? "-" : extra.joined(separator: ","))")
        }
        print("FIGURES phase=end \(end)")
        let report = ScaleReport(tallies: tallies, connections: connections, messages: messages)
        print(report)
        // The adapter's own threads (reactor, Swift pool, libsrt's per-port ones) besides libsrt's per-connection
        // TSBPD threads: the same with 1,000 connections as with none, at rest (all accepted, end) and in every
        // streaming sample; strictly, and besides the self-probe's short-lived port threads.
        // nil (nothing accepted in time) is never constant.
        let strict: [Int?] =
            [allAccepted?.threadsBesidesTSBPD, end.threadsBesidesTSBPD] + streaming.timeline.map { $0 }
        let besidesProbe: [Int?] =
            [allAccepted?.threadsBesidesTSBPDAndProbe, end.threadsBesidesTSBPDAndProbe]
            + streaming.timelineBesidesProbe.map { $0 }
        let constant = besidesProbe.allSatisfy { $0 == baseline.threadsBesidesTSBPDAndProbe }
        print(
            "THREADS constant_besides_tsbpd=\(strict.allSatisfy { $0 == baseline.threadsBesidesTSBPD }) "
                + "constant_besides_tsbpd_and_probe=\(constant) baseline=\(baseline.threadsBesidesTSBPD) "
                + "baseline_besides_probe=\(baseline.threadsBesidesTSBPDAndProbe)")
        return report.isComplete && constant ? 0 : 1
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
