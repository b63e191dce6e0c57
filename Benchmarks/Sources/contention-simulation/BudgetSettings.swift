import Supervisor

/// The restart budget a fleet of simulated clients shares: a fresh, full `RestartBudget` for every run.
///
/// ```swift
/// let settings = BudgetSettings(capacity: 20, successRefill: 1, refillPerSecond: 50)
/// let (budget, clock) = settings.make()
/// ```
struct BudgetSettings: Sendable {
    /// The most tokens; the bucket starts full.
    var capacity: Double
    /// What a success gives back (a retry takes one token).
    var successRefill: Double
    /// What time gives back, per second.
    var refillPerSecond: Double

    /// How the tables name it.
    var name: String {
        "\(Self.number(capacity)) tokens, +\(Self.number(successRefill)) a success, \(Self.number(refillPerSecond))/s"
    }

    /// A full budget on a clock of its own, which the model moves.
    func make() -> (RestartBudget, SimulationClock) {
        let clock = SimulationClock()
        do {
            let budget = try RestartBudget(
                capacity: capacity,
                restartCost: 1,
                successRefill: successRefill,
                refillPerSecond: refillPerSecond,
                clock: clock
            )
            return (budget, clock)
        } catch {
            preconditionFailure("invalid budget \(name): \(error)")
        }
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))" : "\(value)"
    }
}
