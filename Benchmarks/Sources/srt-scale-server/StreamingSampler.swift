/// Samples the process's figures at a fixed interval while messages arrive, for the "while streaming" rows.
struct StreamingSampler {
    /// The most threads and the most memory seen while streaming (perhaps in different samples); the names are
    /// those of the sample with the most threads.
    private(set) var peak: ProcessFigures?
    /// The streaming sample halfway through.
    private(set) var middle: ProcessFigures?
    /// Threads besides libsrt's TSBPD ones, per streaming sample, in order.
    private(set) var timeline: [Int] = []
    /// The same, besides the self-probe's port threads too (``ProcessFigures/threadsBesidesTSBPDAndProbe``).
    private(set) var timelineBesidesProbe: [Int] = []
    /// Threads beyond the baseline's, by name (besides TSBPD ones): the most of each seen in any sample.
    private(set) var extraThreads: [String: Int] = [:]
    /// CPU time over wall time between the first and the last streaming sample, in percent of one core.
    private(set) var cpuPercent = 0.0

    /// Samples until cancelled; a sample counts as streaming when messages arrived since the previous one.
    static func sample(every interval: Duration, baseline: ProcessFigures) async -> StreamingSampler {
        var streaming: [(at: ContinuousClock.Instant, figures: ProcessFigures)] = []
        var previousMessages = ConnectionTally.messagesSoFar.load(ordering: .relaxed)
        while (try? await Task.sleep(for: interval)) != nil {
            let messages = ConnectionTally.messagesSoFar.load(ordering: .relaxed)
            if messages > previousMessages { streaming.append((.now, ProcessFigures.now())) }
            previousMessages = messages
        }
        var sampler = StreamingSampler()
        guard let first = streaming.first, let last = streaming.last else { return sampler }
        sampler.timeline = streaming.map(\.figures.threadsBesidesTSBPD)
        sampler.timelineBesidesProbe = streaming.map(\.figures.threadsBesidesTSBPDAndProbe)
        for (_, figures) in streaming {
            for (name, count) in figures.threadNames where name != ProcessFigures.tsbpdThreadName {
                let extra = count - (baseline.threadNames[name] ?? 0)
                if extra > 0 { sampler.extraThreads[name] = max(extra, sampler.extraThreads[name] ?? 0) }
            }
        }
        let busiest = streaming.max { $0.figures.threads < $1.figures.threads }!.figures
        sampler.peak = ProcessFigures(
            threads: busiest.threads, threadNames: busiest.threadNames,
            residentKiB: streaming.map(\.figures.residentKiB).max() ?? 0, cpuSeconds: busiest.cpuSeconds)
        sampler.middle = streaming[streaming.count / 2].figures
        let wall = (last.at - first.at).seconds
        if wall > 0 { sampler.cpuPercent = (last.figures.cpuSeconds - first.figures.cpuSeconds) / wall * 100 }
        return sampler
    }
}
