import Supervisor

/// Brooker's contention model ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015): `clients` clients
/// each update one shared row exactly once with optimistic concurrency, retrying with a backoff until they succeed.
///
/// Every message takes one ``HopDelay``. A client reads the row's version (request and reply: two hops), then
/// writes with that version (two more hops). The server accepts a write only if the version is still current, and
/// then increments it; otherwise the write is a conflict. After a conflict the client takes the next delay from its
/// own schedule (attempt 1 first: the counter is incremented before the first backoff) and starts over with a
/// read. Every write reaching the server counts, successful or not; the run completes at its last event.
///
/// ```swift
/// let model = ContentionModel()
/// let outcome = model.run(clients: 50, policy: .fullJitter, seed: 1)
/// print(outcome.writes, outcome.completion)
/// ```
struct ContentionModel {
    /// What one run produced.
    struct Outcome {
        /// Writes that reached the server, successful or not.
        var writes: Int
        /// The time of the run's last event, in milliseconds.
        var completion: Double
        /// Writes by the number of backoffs the client had taken before it: index 0 is the first write.
        var writesByAttempt: [Int] = []
    }

    /// The mean delay of one network hop, in milliseconds.
    var hopMean = 10.0
    /// The standard deviation of one hop's delay, in milliseconds.
    var hopStandardDeviation = 2.0

    /// Runs the model once. The network and the backoff draw from separate generators seeded from `seed`, so
    /// every policy meets the same network on its first round.
    func run(clients: Int, policy: Policy, seed: UInt64) -> Outcome {
        var network = HopDelay(mean: hopMean, standardDeviation: hopStandardDeviation, seed: seed)
        var random = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)
        var schedules = (0..<clients).map { _ in policy.makeSchedule() }
        var queue = EventQueue()
        var backoffsTaken = [Int](repeating: 0, count: clients)
        var version = 0
        var outcome = Outcome(writes: 0, completion: 0)

        for client in 0..<clients {
            queue.push(at: network.next(), client: client, .readAtServer)
        }
        while let event = queue.pop() {
            let now = event.time
            outcome.completion = now
            switch event.kind {
            case .readAtServer:
                queue.push(at: now + network.next(), client: event.client, .readReply(version: version))
            case .readReply(let read):
                queue.push(at: now + network.next(), client: event.client, .writeAtServer(version: read))
            case .writeAtServer(let expected):
                outcome.writes += 1
                let attempt = backoffsTaken[event.client]
                if attempt >= outcome.writesByAttempt.count { outcome.writesByAttempt.append(0) }
                outcome.writesByAttempt[attempt] += 1
                let succeeded = expected == version
                if succeeded { version += 1 }
                queue.push(at: now + network.next(), client: event.client, .writeReply(succeeded: succeeded))
            case .writeReply(let succeeded):
                guard !succeeded else { continue }
                // The client sleeps for its next backoff delay, then sends a new read: one hop plus the delay.
                guard let delay = schedules[event.client].nextDelay(using: &random) else {
                    fatalError("policy \(policy.name) gave up; every client must retry until it succeeds")
                }
                backoffsTaken[event.client] += 1
                queue.push(at: now + network.next() + delay, client: event.client, .readAtServer)
            }
        }
        return outcome
    }
}
