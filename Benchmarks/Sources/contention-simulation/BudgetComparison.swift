/// One fleet run without and with a shared restart budget: the same clients, policy, seeds and outage.
///
/// ```swift
/// let comparison = BudgetComparison(
///     scenario: "outage 10 s", clients: 190, outage: 10_000,
///     budget: BudgetSettings(capacity: 20, successRefill: 1, refillPerSecond: 50), model: model, runs: 100)
/// print(comparison.with.writes / comparison.without.writes)  // about 0.3
/// ```
struct BudgetComparison {
    /// How the tables name the situation.
    let scenario: String
    let budget: BudgetSettings
    /// Every client with its own backoff only.
    let without: Measurement
    /// Every client with its own backoff, drawing on one budget.
    let with: Measurement

    /// The backoff every client uses, with and without the budget: Brooker's full jitter.
    static let policy = Policy.fullJitter

    init(
        scenario: String,
        clients: Int,
        outage: Double,
        budget: BudgetSettings,
        model: ContentionModel,
        runs: Int
    ) {
        self.scenario = scenario
        self.budget = budget
        without = Measurement(model: model, policy: Self.policy, clients: clients, runs: runs, outage: outage)
        with = Measurement(
            model: model, policy: Self.policy, clients: clients, runs: runs, budget: budget, outage: outage)
    }
}
