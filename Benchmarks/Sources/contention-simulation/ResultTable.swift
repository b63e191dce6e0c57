import Foundation

/// The simulation's output: Markdown tables for the terminal and the docs, and a CSV for the plots.
enum ResultTable {
    /// One row per N and policy.
    static func grid(_ measurements: [Measurement]) -> String {
        var lines = [
            "| N | policy | mean writes | ± | mean completion ms | ± |",
            "| ---: | --- | ---: | ---: | ---: | ---: |",
        ]
        for m in measurements {
            lines.append(
                "| \(m.clients) | \(m.policy) | \(fixed(m.writes, 1)) | \(fixed(m.writesError, 1)) "
                    + "| \(fixed(m.completion, 0)) | \(fixed(m.completionError, 0)) |"
            )
        }
        return lines.joined(separator: "\n") + "\n\n± is the standard error of the mean.\n"
    }

    /// The measurements at N = 190 beside Brooker's figures, with the ratio and the ±10% check, then the
    /// orderings by time and by writes.
    static func reference(_ measurements: [Measurement]) -> String {
        var lines = [
            "| policy | writes | Brooker | ratio | completion ms | Brooker | ratio | within ±10% |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for reference in BrookerReference.atN190 {
            guard let m = measurements.first(where: { $0.policy == reference.policy }) else { continue }
            let writes = m.writes / reference.writes
            let time = m.completion / reference.completion
            let within = abs(writes - 1) <= BrookerReference.tolerance && abs(time - 1) <= BrookerReference.tolerance
            lines.append(
                "| \(m.policy) | \(fixed(m.writes, 0)) | \(fixed(reference.writes, 0)) | \(fixed(writes, 3)) "
                    + "| \(fixed(m.completion, 0)) | \(fixed(reference.completion, 0)) | \(fixed(time, 3)) "
                    + "| \(within ? "yes" : "NO") |"
            )
        }
        let brooker = measurements.filter { m in Policy.brooker.contains { $0.name == m.policy } }
        let byTime = brooker.sorted { $0.completion < $1.completion }.map(\.policy)
        let byWrites = brooker.sorted { $0.writes < $1.writes }.map(\.policy)
        lines.append("")
        lines.append("Fastest to slowest: \(byTime.joined(separator: " < ")).")
        lines.append("Fewest to most writes: \(byWrites.joined(separator: " < ")).")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every candidate at a small and a large N, as ratios to full jitter at the same N.
    static func search(_ measurements: [Measurement], small: Int, large: Int) -> String {
        func baseline(_ clients: Int) -> Measurement? {
            measurements.first { $0.clients == clients && $0.policy == Policy.fullJitter.name }
        }
        guard let smallBase = baseline(small), let largeBase = baseline(large) else { return "" }
        var lines = [
            "| policy | N=\(large) writes | ×full | N=\(large) ms | ×full | goal | N=\(small) writes | ×full "
                + "| N=\(small) ms | ×full |",
            "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
        ]
        for candidate in measurements where candidate.clients == large {
            guard let low = measurements.first(where: { $0.clients == small && $0.policy == candidate.policy }) else {
                continue
            }
            let writes = candidate.writes / largeBase.writes
            let time = candidate.completion / largeBase.completion
            let reached = writes <= 0.8 && time <= 1.1
            lines.append(
                "| \(candidate.policy) | \(fixed(candidate.writes, 0)) | \(fixed(writes, 2)) "
                    + "| \(fixed(candidate.completion, 0)) | \(fixed(time, 2)) | \(reached ? "yes" : "no") "
                    + "| \(fixed(low.writes, 1)) | \(fixed(low.writes / smallBase.writes, 2)) "
                    + "| \(fixed(low.completion, 0)) | \(fixed(low.completion / smallBase.completion, 2)) |"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Mean writes by attempt, one column per policy, until every column is below one write.
    static func writesByAttempt(_ measurements: [Measurement]) -> String {
        var lines = [
            "| attempt | " + measurements.map(\.policy).joined(separator: " | ") + " |",
            "| ---: |" + String(repeating: " ---: |", count: measurements.count),
        ]
        let longest = measurements.map(\.writesByAttempt.count).max() ?? 0
        for attempt in 0..<longest {
            let values = measurements.map { attempt < $0.writesByAttempt.count ? $0.writesByAttempt[attempt] : 0 }
            // The tail is long but thin: stop once no policy makes a whole write per run at this attempt.
            guard values.contains(where: { $0 >= 1 }) else { break }
            lines.append("| \(attempt) | " + values.map { fixed($0, 0) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Each fleet without and with the budget, side by side: writes and completion time, with the ratios.
    static func budget(_ comparisons: [BudgetComparison]) -> String {
        var lines = [
            "| fleet | N | budget | writes without | writes with | ×without | ms without | ms with | ×without |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for c in comparisons {
            lines.append(
                "| \(c.scenario) | \(c.with.clients) | \(c.budget.name) "
                    + "| \(fixed(c.without.writes, 0)) ± \(fixed(c.without.writesError, 0)) "
                    + "| \(fixed(c.with.writes, 0)) ± \(fixed(c.with.writesError, 0)) "
                    + "| \(fixed(c.with.writes / c.without.writes, 2)) "
                    + "| \(fixed(c.without.completion, 0)) ± \(fixed(c.without.completionError, 0)) "
                    + "| \(fixed(c.with.completion, 0)) ± \(fixed(c.with.completionError, 0)) "
                    + "| \(fixed(c.with.completion / c.without.completion, 2)) |"
            )
        }
        return lines.joined(separator: "\n") + "\n\n± is the standard error of the mean.\n"
    }

    /// Every measurement, one per line; `group` is `grid` (every N), `search` (the candidates), or `budget` (the
    /// fleets with a budget; the policy column names the fleet and the budget).
    static func csv(grid: [Measurement], search: [Measurement], budget: [BudgetComparison] = []) -> String {
        var lines = ["group,clients,policy,runs,mean_writes,writes_stderr,mean_completion_ms,completion_stderr_ms"]
        for (group, measurements) in [("grid", grid), ("search", search)] {
            for m in measurements {
                lines.append(
                    "\(group),\(m.clients),\"\(m.policy)\",\(m.runs),\(fixed(m.writes, 2)),\(fixed(m.writesError, 2)),"
                        + "\(fixed(m.completion, 1)),\(fixed(m.completionError, 1))"
                )
            }
        }
        for c in budget {
            for (label, m) in [("without budget", c.without), ("with \(c.budget.name)", c.with)] {
                lines.append(
                    "budget,\(m.clients),\"\(c.scenario), \(label)\",\(m.runs),\(fixed(m.writes, 2)),"
                        + "\(fixed(m.writesError, 2)),\(fixed(m.completion, 1)),\(fixed(m.completionError, 1))"
                )
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
