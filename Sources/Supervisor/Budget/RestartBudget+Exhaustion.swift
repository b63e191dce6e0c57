extension RestartBudget {
    /// What a restart does when the budget lacks its cost.
    ///
    /// - ``wait``: take the tokens in advance and wait until the budget's time refill has paid them back; the
    ///   supervisor reports ``SupervisorEvent/waitingForBudget(until:)`` and stays in its backoff meanwhile (a
    ///   ``ResourceSupervisor/wake(spread:)`` does not end that wait).
    /// - ``escalate``: take nothing and follow the policy's ``Escalation``, as when the restart intensity trips:
    ///   give up with ``SupervisorError/Code/budgetExhausted``, or degrade to slow probing (probes the budget cannot
    ///   pay for go ahead at the probe interval). `retry` ends with ``RetryError/Reason/budgetExhausted``.
    ///
    /// ```swift
    /// let budget = try RestartBudget(capacity: 50, refillPerSecond: 0, whenExhausted: .escalate)
    /// ```
    public struct Exhaustion: Hashable, Sendable, CustomStringConvertible {
        enum Kind: Hashable, Sendable {
            case wait
            case escalate
        }

        let kind: Kind

        private init(_ kind: Kind) {
            self.kind = kind
        }

        /// Wait for the time refill (the default).
        public static let wait = Exhaustion(.wait)
        /// Follow the policy's escalation; `retry` gives up.
        public static let escalate = Exhaustion(.escalate)

        public var description: String {
            switch kind {
            case .wait: "wait"
            case .escalate: "escalate"
            }
        }
    }
}
