import Metrics

/// The swift-metrics instruments of one supervisor, created once so that recording never allocates.
///
/// | metric | kind | dimensions | meaning |
/// | --- | --- | --- | --- |
/// | `supervisor_failures_total` | counter | `name`, `phase` | failures of `start()` (`start`) and deaths after ready (`run`) |
/// | `supervisor_decisions_total` | counter | `name`, `decision` | what the classifier decided: `restart`, `restart-after`, `restart-now`, `give-up`, `stop` |
/// | `supervisor_restarts_total` | counter | `name` | restarts attempted after a failure |
/// | `supervisor_budget_waits_total` | counter | `name` | restarts that waited for the restart budget's tokens |
/// | `supervisor_state` | gauge | `name`, `state` | 1 for the current state, 0 for the others |
/// | `supervisor_time_to_recover` | timer | `name` | from the first failure of a streak to ready again |
/// | `supervisor_uptime` | timer | `name` | how long each run was ready before it ended |
///
/// With swift-metrics' no-op factory (no backend bootstrapped) nothing is created at all: a supervisor then
/// costs no metric objects, which matters when a process parks 100,000 of them.
/// A class, so that a supervisor carries a pointer (or `nil`) rather than its instruments inline.
final class SupervisorMetrics: Sendable {
    private let startFailures: Counter
    private let runFailures: Counter
    /// Indexed by `FailureDecision.ordinal`.
    private let decisions: [Counter]
    let restarts: Counter
    let budgetWaits: Counter
    /// Indexed by `SupervisorState.ordinal`.
    private let states: [Gauge]
    let timeToRecover: Metrics.Timer
    let uptime: Metrics.Timer

    /// The instruments for the supervisor `name`, or `nil` when `factory` records nothing.
    static func make(name: String, factory: any MetricsFactory) -> SupervisorMetrics? {
        if factory is NOOPMetricsHandler { return nil }
        return SupervisorMetrics(name: name, factory: factory)
    }

    private init(name: String, factory: any MetricsFactory) {
        let dimensions = [("name", name)]
        func counter(_ label: String, _ extra: [(String, String)] = []) -> Counter {
            Counter(label: label, dimensions: dimensions + extra, factory: factory)
        }
        startFailures = counter("supervisor_failures_total", [("phase", "start")])
        runFailures = counter("supervisor_failures_total", [("phase", "run")])
        decisions = FailureDecision.labels.map { counter("supervisor_decisions_total", [("decision", $0)]) }
        restarts = counter("supervisor_restarts_total")
        budgetWaits = counter("supervisor_budget_waits_total")
        states = SupervisorState.labels.map {
            Gauge(label: "supervisor_state", dimensions: dimensions + [("state", $0)], factory: factory)
        }
        timeToRecover = Metrics.Timer(label: "supervisor_time_to_recover", dimensions: dimensions, factory: factory)
        uptime = Metrics.Timer(label: "supervisor_uptime", dimensions: dimensions, factory: factory)
    }

    func failed(_ failure: SupervisorFailure) {
        (failure.phase == .start ? startFailures : runFailures).increment()
        decisions[failure.decision.ordinal].increment()
        if let uptime = failure.uptime { self.uptime.record(duration: uptime) }
    }

    func stateChanged(from old: Int?, to new: Int) {
        guard old != new else { return }
        if let old { states[old].record(0) }
        states[new].record(1)
    }
}
