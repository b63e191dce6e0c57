import Supervisor

/// The mean outcome of one policy at one N over many runs, with the standard error of each mean.
///
/// ```swift
/// let measurement = Measurement(model: ContentionModel(), policy: .fullJitter, clients: 190, runs: 100)
/// print(measurement.writes, measurement.completion)  // about 1771 writes, 7460 ms
/// ```
struct Measurement {
    let clients: Int
    let policy: String
    let runs: Int
    /// Mean writes per run.
    let writes: Double
    /// Standard error of ``writes``.
    let writesError: Double
    /// Mean completion time per run, in milliseconds.
    let completion: Double
    /// Standard error of ``completion``.
    let completionError: Double
    /// Mean writes per run by the number of backoffs the client had taken before each (index 0: first writes).
    let writesByAttempt: [Double]

    /// Runs `model` `runs` times. Run `r` at N clients uses the same seed for every policy, budget and outage.
    init(
        model: ContentionModel,
        policy: Policy,
        clients: Int,
        runs: Int,
        budget: BudgetSettings? = nil,
        outage: Double = 0
    ) {
        var writes = Statistic()
        var completion = Statistic()
        var byAttempt: [Double] = []
        for run in 0..<runs {
            let outcome = model.run(
                clients: clients,
                policy: policy,
                seed: Self.seed(clients: clients, run: run),
                budget: budget,
                outage: outage
            )
            writes.add(Double(outcome.writes))
            completion.add(outcome.completion)
            for (attempt, count) in outcome.writesByAttempt.enumerated() {
                if attempt == byAttempt.count { byAttempt.append(0) }
                byAttempt[attempt] += Double(count) / Double(runs)
            }
        }
        self.clients = clients
        self.policy = policy.name
        self.runs = runs
        self.writes = writes.mean
        self.writesError = writes.standardError
        self.completion = completion.mean
        self.completionError = completion.standardError
        self.writesByAttempt = byAttempt
    }

    /// A well-mixed seed for run `run` at `clients` clients.
    static func seed(clients: Int, run: Int) -> UInt64 {
        var mixer = SplitMix64(seed: UInt64(clients) << 32 | UInt64(run))
        return mixer.next()
    }
}
