/// Samples the process's figures at a fixed interval while messages arrive, for the "while streaming" rows.
struct StreamingSampler {
    /// Every sample taken while the message count grew, in order.
    private(set) var samples: [ProcessFigures] = []
    /// CPU time over wall time between the first and the last streaming sample, in percent of one core.
    private(set) var cpuPercent = 0.0

    /// The streaming sample halfway through.
    var middle: ProcessFigures? {
        samples.isEmpty ? nil : samples[samples.count / 2]
    }

    /// Samples until cancelled; a sample counts as streaming when messages arrived since the previous one.
    static func sample(every interval: Duration) async -> StreamingSampler {
        var sampler = StreamingSampler()
        var instants: [ContinuousClock.Instant] = []
        var previousMessages = ConnectionTally.messagesSoFar.load(ordering: .relaxed)
        while (try? await Task.sleep(for: interval)) != nil {
            let messages = ConnectionTally.messagesSoFar.load(ordering: .relaxed)
            if messages > previousMessages {
                instants.append(.now)
                sampler.samples.append(ProcessFigures.now())
            }
            previousMessages = messages
        }
        if let first = sampler.samples.first, let last = sampler.samples.last, instants.count > 1 {
            let wall = (instants[instants.count - 1] - instants[0]).seconds
            sampler.cpuPercent = (last.cpuSeconds - first.cpuSeconds) / wall * 100
        }
        return sampler
    }
}
