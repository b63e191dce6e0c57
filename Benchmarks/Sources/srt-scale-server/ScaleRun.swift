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
            // Every caller connects from 127.0.0.1, 64 handshakes in flight (callers.c): the default share of pending
            // handshakes per address (4, against a flood from one host) would reject most of them.
            configuration: try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, backlog: 1_024, maxConnections: connections + 64,
                maxPendingPerAddress: 64),
            name: "srt-scale", logger: ServerLog.logger(label: "srt-scale"))
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
        let sampler = Task { await StreamingSampler.sample(every: .seconds(1)) }
        let (tallies, allAccepted, acceptedAfter) = await work.value
        watchdog.cancel()
        sampler.cancel()
        let streaming = await sampler.value
        // libsrt ends a TSBPD thread a moment after its connection: the end figures wait (at most 5 s) for them.
        var end = ProcessFigures.now()
        let endDeadline = ContinuousClock.now + .seconds(5)
        while end.threads(of: .tsbpd) > 0, ContinuousClock.now < endDeadline {
            try? await Task.sleep(for: .milliseconds(100))
            end = ProcessFigures.now()
        }

        if let allAccepted, let acceptedAfter {
            print("FIGURES phase=accepted \(allAccepted) after_s=\(acceptedAfter.seconds)")
        } else {
            print("FAIL only \(tallies.count) of \(connections) connections accepted before the deadline")
        }
        if let middle = streaming.middle {
            let samples = streaming.samples
            print("FIGURES phase=streaming-middle \(middle)")
            print(
                "FIGURES phase=streaming-peak threads=\(samples.map(\.threads).max() ?? 0) "
                    + "threads_besides_tsbpd=\(samples.map(\.threadsBesidesTSBPD).max() ?? 0) "
                    + "rss_kib=\(samples.map(\.residentKiB).max() ?? 0)")
            print(
                "STREAMING samples=\(samples.count) cpu_percent=\(streaming.cpuPercent) "
                    + "threads_besides_tsbpd=\(samples.map { String($0.threadsBesidesTSBPD) }.joined(separator: ","))")
        }
        print("FIGURES phase=end \(end)")
        let report = ScaleReport(tallies: tallies, connections: connections, messages: messages)
        print(report)
        // Per kind of thread: the baseline, then the fewest and the most at any later moment (all accepted, every
        // streaming sample, end). The verdict is on the adapter's own threads (reactor, control thread): constant.
        let later = [allAccepted, end].compactMap { $0 } + streaming.samples
        var verdict = allAccepted != nil
        var line = "THREADS"
        for kind in ProcessFigures.Kind.allCases {
            let counts = later.map { $0.threads(of: kind) }
            line += " \(kind.rawValue)=\(baseline.threads(of: kind)),\(counts.min() ?? 0),\(counts.max() ?? 0)"
            if kind == .adapter { verdict = verdict && counts.allSatisfy { $0 == baseline.threads(of: kind) } }
        }
        print("\(line) adapter_constant=\(verdict)")
        return report.isComplete && verdict ? 0 : 1
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
