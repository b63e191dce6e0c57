import Foundation
import Supervisor

/// Reproduces Brooker's "Exponential Backoff And Jitter" contention simulation with the library's own backoffs,
/// then runs the search for a policy with fewer writes and the fleets with a shared restart budget. Prints Markdown
/// tables and writes a CSV for the plots.
///
/// ```
/// contention-simulation --runs 100 --csv Docs/data/contention-simulation.csv
/// ```
@main
enum ContentionSimulation {
    /// N = 10 to 190 in steps of 20, as in the post.
    static let clientCounts = Array(stride(from: 10, through: 190, by: 20))
    /// The N at which the reference figures and the goal are stated.
    static let largest = 190
    /// The N that shows what a policy costs when contention is low.
    static let smallest = 10

    /// The fleets run without and with a shared budget: Brooker's contention at the smallest and the largest N, then
    /// the largest N and a thousand clients after a 10 s outage of their server. Each budget starts with 20 tokens
    /// and gets one back for every success; its time refill is the server's pace (a write per conflict window of
    /// about 20 ms: 50 a second), half of it, or twice.
    static let fleets: [(scenario: String, clients: Int, outage: Double, budget: BudgetSettings)] =
        [50.0, 25, 100].flatMap { refill in
            let budget = BudgetSettings(capacity: 20, successRefill: 1, refillPerSecond: refill)
            return [
                ("contention", smallest, 0.0, budget),
                ("contention", largest, 0.0, budget),
                ("outage 10 s", largest, 10_000.0, budget),
                ("outage 10 s", 1_000, 10_000.0, budget),
            ]
        }

    static func main() throws {
        let options: Options
        do {
            options = try Options(CommandLine.arguments.dropFirst())
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(64)  // EX_USAGE
        }
        let clock = ContinuousClock()
        let started = clock.now
        let model = ContentionModel()

        let grid = clientCounts.flatMap { clients in
            (Policy.brooker + Policy.shortlist).map { policy in
                Measurement(model: model, policy: policy, clients: clients, runs: options.runs)
            }
        }
        let search = [smallest, largest].flatMap { clients in
            Policy.candidates.map { Measurement(model: model, policy: $0, clients: clients, runs: options.runs) }
        }

        print("## Every N (\(options.runs) runs each)\n")
        print(ResultTable.grid(grid))
        print("## N = \(largest) against Brooker's reference\n")
        print(ResultTable.reference(grid.filter { $0.clients == largest }))
        print("## The search: ratios to full jitter at the same N (goal at N = \(largest): writes ≤ 0.8, time ≤ 1.1)\n")
        print(ResultTable.search(search, small: smallest, large: largest))
        print("## Mean writes by attempt at N = \(largest) (attempt 0: the first write)\n")
        let histogramPolicies = [Policy.fullJitter.name] + Policy.shortlist.map(\.name)
        let histograms = grid.filter { $0.clients == largest && histogramPolicies.contains($0.policy) }
        print(ResultTable.writesByAttempt(histograms))

        print("## A restart budget shared by the fleet (\(BudgetComparison.policy.name), \(options.runs) runs each)\n")
        let budgets = fleets.map {
            BudgetComparison(
                scenario: $0.scenario, clients: $0.clients, outage: $0.outage, budget: $0.budget, model: model,
                runs: options.runs)
        }
        print(ResultTable.budget(budgets))

        let csv = ResultTable.csv(grid: grid, search: search, budget: budgets)
        try csv.write(toFile: options.csvPath, atomically: true, encoding: .utf8)
        let elapsed = started.duration(to: clock.now)
        print("wrote \(options.csvPath); \(grid.count + search.count + 2 * budgets.count) measurements in \(elapsed)")
    }
}
