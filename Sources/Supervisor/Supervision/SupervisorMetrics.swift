import Metrics

/// The swift-metrics instruments of one supervisor, created once so that recording never allocates.
///
/// | metric | kind | dimensions | meaning |
/// | --- | --- | --- | --- |
/// | `supervisor_failures_total` | counter | `name`, `phase` | failures of `start()` (`start`) and deaths after ready (`run`) |
/// | `supervisor_decisions_total` | counter | `name`, `decision` | what the classifier decided: `restart`, `restart-after`, `give-up`, `stop` |
/// | `supervisor_restarts_total` | counter | `name` | restarts attempted after a failure |
/// | `supervisor_state` | gauge | `name`, `state` | 1 for the current state, 0 for the others |
/// | `supervisor_time_to_recover` | timer | `name` | from the first failure of a streak to ready again |
/// | `supervisor_uptime` | timer | `name` | how long each run was ready before it ended |
struct SupervisorMetrics: Sendable {
    static let states = ["idle", "starting", "ready", "backing-off", "degraded", "stopped"]
    static let decisions = ["restart", "restart-after", "give-up", "stop"]

    let startFailures: Counter
    let runFailures: Counter
    let decisions: [String: Counter]
    let restarts: Counter
    let states: [String: Gauge]
    let timeToRecover: Metrics.Timer
    let uptime: Metrics.Timer

    init(name: String, factory: any MetricsFactory) {
        let dimensions = [("name", name)]
        startFailures = Counter(
            label: "supervisor_failures_total",
            dimensions: dimensions + [("phase", "start")],
            factory: factory
        )
        runFailures = Counter(
            label: "supervisor_failures_total",
            dimensions: dimensions + [("phase", "run")],
            factory: factory
        )
        var decisions: [String: Counter] = [:]
        for decision in Self.decisions {
            decisions[decision] = Counter(
                label: "supervisor_decisions_total",
                dimensions: dimensions + [("decision", decision)],
                factory: factory
            )
        }
        self.decisions = decisions
        restarts = Counter(label: "supervisor_restarts_total", dimensions: dimensions, factory: factory)
        var states: [String: Gauge] = [:]
        for state in Self.states {
            states[state] = Gauge(
                label: "supervisor_state", dimensions: dimensions + [("state", state)], factory: factory)
        }
        self.states = states
        timeToRecover = Metrics.Timer(label: "supervisor_time_to_recover", dimensions: dimensions, factory: factory)
        uptime = Metrics.Timer(label: "supervisor_uptime", dimensions: dimensions, factory: factory)
    }

    func failed(_ failure: SupervisorFailure) {
        (failure.phase == .start ? startFailures : runFailures).increment()
        decisions[failure.decision.label]?.increment()
        if let uptime = failure.uptime { self.uptime.record(duration: uptime) }
    }

    func stateChanged(from old: String, to new: String) {
        guard old != new else { return }
        states[old]?.record(0)
        states[new]?.record(1)
    }
}
