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
/// Two variations for the restart budget: with `budget`, every client draws on one shared `RestartBudget` (a
/// retry takes a token, and waits for it when the bucket is short; a success gives the budget's refill back);
/// with `outage`, the server fails every write that reaches it before that instant, as a dependency that is down.
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
    func run(
        clients: Int,
        policy: Policy,
        seed: UInt64,
        budget settings: BudgetSettings? = nil,
        outage: Double = 0
    ) -> Outcome {
        var network = HopDelay(mean: hopMean, standardDeviation: hopStandardDeviation, seed: seed)
        var random = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)
        var schedules = (0..<clients).map { _ in policy.makeSchedule() }
        var queue = EventQueue()
        var backoffsTaken = [Int](repeating: 0, count: clients)
        var version = 0
        var outcome = Outcome(writes: 0, completion: 0)
        let (budget, budgetClock) = settings.map { $0.make() } ?? (nil, nil)

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
                // During the outage every write fails, and the row does not change.
                let succeeded = expected == version && now >= outage
                if succeeded { version += 1 }
                queue.push(at: now + network.next(), client: event.client, .writeReply(succeeded: succeeded))
            case .writeReply(let succeeded):
                budgetClock?.set(milliseconds: now)
                guard !succeeded else {
                    budget?.recordSuccess()
                    continue
                }
                // The client sleeps for its next backoff delay, then sends a new read: one hop plus the delay.
                guard var delay = schedules[event.client].nextDelay(using: &random) else {
                    fatalError("policy \(policy.name) gave up; every client must retry until it succeeds")
                }
                if let budget {
                    // The retry's token: when the bucket is short, the delay grows to the wait for it.
                    guard let wait = budget.withdraw() else { fatalError("a waiting budget never refuses") }
                    delay = max(delay, wait / .milliseconds(1))
                }
                backoffsTaken[event.client] += 1
                queue.push(at: now + network.next() + delay, client: event.client, .readAtServer)
            }
        }
        return outcome
    }
}
