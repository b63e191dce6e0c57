public import Metrics
import Synchronization

/// A budget of restarts shared by any number of supervisors and `retry` calls: a token bucket in the manner of
/// gRPC's retry throttling and the AWS SDKs' retry quota, for a fleet of supervisors that must not hammer what they
/// depend on all at once.
///
/// Construct one and pass it to every policy (and `retry` call) that draws on the same dependency:
///
/// ```swift
/// let budget = try RestartBudget(capacity: 100, refillPerSecond: 5, clock: clock)
/// let policy = try RestartPolicy(budget: budget)
/// let supervisors = listeners.map { ResourceSupervisor($0, name: $0.name, policy: policy, clock: clock) }
/// let config = try await retry(budget: budget, clock: clock) { try await fetchConfiguration() }
/// ```
///
/// How tokens move:
/// - The bucket starts full, with ``capacity`` tokens.
/// - Every restart after a failure takes ``restartCost`` when it is decided (a `retry` call: every call after a
///   failed one). The first start takes nothing.
/// - Every success gives ``successRefill`` back: a start that became ready, a `retry` call that succeeded.
/// - Time gives ``refillPerSecond`` back, so a fleet that is down as a whole, with no success to refill the bucket,
///   still restarts at that pace rather than never again.
/// - The bucket never holds more than ``capacity``. A restart that took its tokens but never happened (its
///   supervisor stopped during the backoff, a `retry` cancelled) gives them back.
///
/// When the bucket lacks a restart's cost, ``exhaustion`` decides: ``Exhaustion/wait`` takes the tokens in
/// advance, leaving the bucket in debt, and the restart waits until the time refill has paid the debt back (so
/// waiting restarts go one after another at ``refillPerSecond``, in the order they asked, each at its own
/// instant); ``Exhaustion/escalate`` takes nothing and follows the policy's ``Escalation``.
///
/// The budget reads its own clock, which must be the clock of the supervisors that share it (a `TestClock` in
/// tests): a wait is computed on it and waited on theirs.
///
/// Metrics: the gauge `supervisor_budget_tokens` (dimension `budget`, the budget's ``name``) holds the balance
/// after each withdrawal, success or refund, below zero while restarts wait for tokens taken in advance; each
/// supervisor counts its waits in `supervisor_budget_waits_total`.
public final class RestartBudget: Sendable, CustomStringConvertible {
    /// The most tokens the bucket holds; it starts full.
    public let capacity: Double
    /// What one restart (or one `retry` call after a failure) takes.
    public let restartCost: Double
    /// What one success gives back.
    public let successRefill: Double
    /// What time gives back, per second.
    public let refillPerSecond: Double
    /// What a restart does when the bucket lacks its cost.
    public let exhaustion: Exhaustion
    /// Identifies the budget in metrics.
    public let name: String

    private let bucket: Mutex<TokenBucket>
    /// The budget's clock, seen as offsets.
    private let timeline: Timeline
    private let tokensGauge: Gauge?

    /// The largest capacity accepted: far more tokens than any fleet restarts, and small enough that a `Double`
    /// still counts single tokens exactly.
    public static let largestCapacity = 1e12

    /// Creates a full budget.
    ///
    /// - Parameters:
    ///   - capacity: the most tokens the bucket holds; more than zero, at most ``largestCapacity``.
    ///   - restartCost: what a restart takes; more than zero, at most `capacity`.
    ///   - successRefill: what a success gives back; more than zero, at most `capacity`. gRPC's `tokenRatio` is 0.1
    ///     for a cost of 1: ten successes pay for one retry.
    ///   - refillPerSecond: what time gives back, per second; zero or more, at most ``largestCapacity``, and more
    ///     than zero when `whenExhausted` is ``Exhaustion/wait`` (a fleet that is wholly down would otherwise wait
    ///     forever).
    ///   - whenExhausted: what a restart does when the bucket lacks its cost.
    ///   - name: the `budget` dimension of the tokens gauge.
    ///   - clock: the clock of the supervisors and `retry` calls that share the budget.
    ///   - metricsFactory: where the tokens gauge is recorded; the process-wide `MetricsSystem.factory` by default.
    /// - Throws: ``ConfigurationError`` for a value out of its range or not finite.
    public init(
        capacity: Double,
        restartCost: Double = 1,
        successRefill: Double = 0.1,
        refillPerSecond: Double,
        whenExhausted: Exhaustion = .wait,
        name: String = "restarts",
        clock: any Clock<Duration> = ContinuousClock(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ConfigurationError) {
        try Self.check(capacity, "capacity", above: 0, atMost: Self.largestCapacity)
        try Self.check(restartCost, "restartCost", above: 0, atMost: capacity)
        try Self.check(successRefill, "successRefill", above: 0, atMost: capacity)
        try Self.check(refillPerSecond, "refillPerSecond", above: nil, atMost: Self.largestCapacity)
        if whenExhausted == .wait, refillPerSecond == 0 {
            throw ConfigurationError(
                .inconsistent,
                option: "refillPerSecond",
                "must be more than zero when restarts wait for tokens: nothing else refills a fleet that is all down"
            )
        }
        self.capacity = capacity
        self.restartCost = restartCost
        self.successRefill = successRefill
        self.refillPerSecond = refillPerSecond
        self.exhaustion = whenExhausted
        self.name = name
        self.timeline = Timeline.of(clock)
        self.bucket = Mutex(
            TokenBucket(
                capacity: capacity,
                cost: restartCost,
                successRefill: successRefill,
                refillPerSecond: refillPerSecond,
                at: timeline.now()
            )
        )
        tokensGauge =
            metricsFactory is NOOPMetricsHandler
            ? nil : Gauge(label: "supervisor_budget_tokens", dimensions: [("budget", name)], factory: metricsFactory)
        tokensGauge?.record(capacity)
    }

    /// The tokens now, with the time refill up to now; below zero while restarts wait for tokens taken in advance.
    public var tokens: Double {
        let now = timeline.now()
        return bucket.withLock { $0.tokens(at: now) }
    }

    /// Takes one restart's cost, for a retry loop of your own: how long to wait before the restart (`.zero` when
    /// the tokens were there), or `nil` when the bucket lacks them and ``exhaustion`` is ``Exhaustion/escalate``
    /// (nothing was taken). Supervisors and `retry` call it for you.
    ///
    /// ```swift
    /// guard let wait = budget.withdraw() else { throw GiveUp() }
    /// try await Task.sleep(for: max(wait, backoff))
    /// ```
    public func withdraw() -> Duration? {
        switch withdrawal() {
        case .granted: .zero
        case .wait(let wait): wait
        case .refused: nil
        }
    }

    /// A success: gives ``successRefill`` back.
    public func recordSuccess() {
        update { $0.deposit(at: $1) }
    }

    /// A restart that took its tokens did not happen: gives ``restartCost`` back.
    public func refund() {
        update { $0.refund(at: $1) }
    }

    /// Takes one restart's cost: what the restart is to do.
    func withdrawal() -> TokenBucket.Withdrawal {
        let waitIfShort = exhaustion == .wait
        var result = TokenBucket.Withdrawal.refused
        update { result = $0.withdraw(at: $1, waitIfShort: waitIfShort) }
        return result
    }

    /// Changes the bucket at the budget's now, and records the balance it leaves.
    private func update(_ body: (inout TokenBucket, Duration) -> Void) {
        let now = timeline.now()
        bucket.withLock { bucket in
            body(&bucket, now)
            // Under the lock, so that the gauge's last value is the bucket's last balance.
            tokensGauge?.record(bucket.balance)
        }
    }

    public var description: String {
        "budget \(name): \(capacity) tokens, \(restartCost) a restart, \(successRefill) a success, "
            + "\(refillPerSecond) a second, \(exhaustion) when short"
    }

    private static func check(
        _ value: Double,
        _ option: String,
        above lower: Double?,
        atMost upper: Double
    ) throws(ConfigurationError) {
        guard value.isFinite else {
            throw ConfigurationError(.notFinite, option: option, "must be finite, got \(value)")
        }
        let low = lower.map { value > $0 } ?? (value >= 0)
        guard low, value <= upper else {
            let range = lower == nil ? "zero or more" : "more than zero"
            throw ConfigurationError(.outOfRange, option: option, "must be \(range) and at most \(upper), got \(value)")
        }
    }
}
