import Metrics

/// The swift-metrics instruments of one group; each child's supervisor records its own under the child's path.
///
/// | metric | kind | dimensions | meaning |
/// | --- | --- | --- | --- |
/// | `supervisor_group_children` | gauge (meter) | `name` | children running now |
/// | `supervisor_group_restarts_total` | counter | `name` | child failures the group applied its strategy to |
/// | `supervisor_group_escalations_total` | counter | `name` | times the group's intensity tripped |
final class GroupMetrics: Sendable {
    let children: Meter
    let restarts: Counter
    let escalations: Counter

    /// The instruments for the group `name`, or `nil` when `factory` records nothing.
    static func make(name: String, factory: any MetricsFactory) -> GroupMetrics? {
        if factory is NOOPMetricsHandler { return nil }
        return GroupMetrics(name: name, factory: factory)
    }

    private init(name: String, factory: any MetricsFactory) {
        let dimensions = [("name", name)]
        children = Meter(label: "supervisor_group_children", dimensions: dimensions, factory: factory)
        restarts = Counter(label: "supervisor_group_restarts_total", dimensions: dimensions, factory: factory)
        escalations = Counter(label: "supervisor_group_escalations_total", dimensions: dimensions, factory: factory)
    }
}
