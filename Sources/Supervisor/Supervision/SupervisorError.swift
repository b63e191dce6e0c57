/// Why a supervisor gave up, with the failure that made it.
///
/// Thrown from `ResourceSupervisor.run()`; a `ServiceGroup` then shuts down or not, as it is configured.
///
/// ```swift
/// do {
///     try await supervisor.run()
/// } catch let error as SupervisorError where error.code == .fatal {
///     logger.critical("cannot recover", metadata: ["error": "\(error.lastFailure)"])
/// }
/// ```
public struct SupervisorError: Error, Sendable, CustomStringConvertible {
    /// Why supervision ended; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum _Code: Hashable, Sendable {
            case fatal
            case intensityExceeded
            case attemptsExhausted
            case failingTooLong
            case budgetExhausted
            case childFailed
        }

        private let code: _Code

        private init(_ code: _Code) {
            self.code = code
        }

        /// The classifier decided ``FailureDecision/giveUp``.
        public static let fatal = Code(.fatal)
        /// More restarts than the ``RestartIntensity`` allows, with ``Escalation/giveUp``.
        public static let intensityExceeded = Code(.intensityExceeded)
        /// More consecutive failures than `maxAttempts`, or the backoff schedule ran out.
        public static let attemptsExhausted = Code(.attemptsExhausted)
        /// The failing streak lasted longer than `maxFailingDuration`.
        public static let failingTooLong = Code(.failingTooLong)
        /// The policy's ``RestartBudget`` lacked a restart's cost, with ``RestartBudget/Exhaustion/escalate`` and
        /// ``Escalation/giveUp``.
        public static let budgetExhausted = Code(.budgetExhausted)
        /// A group's significant child failed and was not started again, which ends the group; ``lastFailure`` is
        /// the child's error.
        public static let childFailed = Code(.childFailed)

        public var description: String {
            switch code {
            case .fatal: "fatal failure"
            case .intensityExceeded: "restart intensity exceeded"
            case .attemptsExhausted: "attempts exhausted"
            case .failingTooLong: "failing for too long"
            case .budgetExhausted: "restart budget exhausted"
            case .childFailed: "a significant child failed"
            }
        }
    }

    /// Why supervision ended.
    public let code: Code
    /// The supervisor's name.
    public let name: String
    /// The failure that ended it.
    public let lastFailure: any Error
    /// Where that failure happened.
    public let phase: FailurePhase
    /// Consecutive failures in the streak that ended, the last one included.
    public let failures: Int

    public var description: String {
        "supervisor \(name): \(code) after \(failures) consecutive failure(s); last (\(phase)): \(lastFailure)"
    }
}
