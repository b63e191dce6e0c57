// What the state machine tells the runner to do. Each action says what to publish (its events, in order, and the
// state they leave; see `SupervisorPublication`) and what to do next (its cases). The runner publishes through
// `forEachEvent` and `state` only, so the order that `SupervisorStateMachineTests` checks on the machine is the
// order subscribers and logs see.

/// The events an action publishes and the state they leave.
///
/// ```swift
/// var events: [SupervisorEvent] = []
/// action.forEachEvent(supervisor: "ingest") { events.append($0) }
/// ```
protocol SupervisorPublication {
    /// The observed state once the events are out; `nil` when they leave it as it was.
    func state(supervisor name: String) -> SupervisorState?
    /// Hands the events to `body`, in order. They are made only here: a supervisor that nobody watches never pays
    /// for them.
    func forEachEvent(supervisor name: String, _ body: (SupervisorEvent) -> Void)
}

extension SupervisorStateMachine {
    /// What the runner does when an attempt may be due: after `begin(at:)` and after a backoff.
    enum AttemptAction: SupervisorPublication {
        /// Publish ``SupervisorEvent/starting(attempt:)`` (state `.starting`) when `announce` (a restart at once
        /// published it with its failure already), then call `start()`.
        case start(attempt: Int, announce: Bool)
        /// A wake-up cut the backoff short before the minimum restart delay: wait until the instant `until` (on the
        /// timeline; a shutdown still ends the wait, another wake-up does not), then report `backoffEnded()` again.
        case waitOut(until: Duration)
        /// Publish ``SupervisorEvent/stopped(_:)``: supervision is over.
        case finish(SupervisorStopReason)

        func state(supervisor name: String) -> SupervisorState? {
            switch self {
            case .start(let attempt, true): .starting(attempt: attempt)
            case .start, .waitOut: nil
            case .finish(let reason): .stopped(reason)
            }
        }

        func forEachEvent(supervisor name: String, _ body: (SupervisorEvent) -> Void) {
            switch self {
            case .start(let attempt, true): body(.starting(attempt: attempt))
            case .start, .waitOut: break
            case .finish(let reason): body(.stopped(reason))
            }
        }
    }

    /// What the runner does once `start()` returned an instance.
    enum ReadyAction: SupervisorPublication {
        /// Publish ``SupervisorEvent/ready(attempt:)`` (state `.ready`), record `timeToRecover` (the first ready of
        /// a failing streak), have the scheduler ring at `recoversAt` (a degraded supervisor's run becomes stable
        /// then, and the runner publishes ``SupervisorEvent/recovered`` if it is still going), then run the resource.
        case serve(attempt: Int, timeToRecover: Duration?, recoversAt: Duration?)
        /// Supervision is stopping: stop the instance, then publish ``SupervisorEvent/stopped(_:)``.
        case stopAndFinish(SupervisorStopReason)

        func state(supervisor name: String) -> SupervisorState? {
            switch self {
            case .serve: .ready
            case .stopAndFinish(let reason): .stopped(reason)
            }
        }

        /// For ``stopAndFinish(_:)``, the event that follows the stop.
        func forEachEvent(supervisor name: String, _ body: (SupervisorEvent) -> Void) {
            switch self {
            case .serve(let attempt, _, _): body(.ready(attempt: attempt))
            case .stopAndFinish(let reason): body(.stopped(reason))
            }
        }
    }

    /// What the runner does after a failure (or the end of a run): publish `failed(failure)` when there is a
    /// failure, then what `outcome` says.
    ///
    /// A struct rather than an enum with the failure in each case, so that the runner reads the outcome (plain values
    /// for a restart) without copying the failure, whose error is a reference-counted box.
    struct FailureAction: SupervisorPublication {
        enum Outcome {
            /// Publish ``SupervisorEvent/stopped(_:)``: supervision is over.
            case finish(SupervisorStopReason)
            /// Publish ``SupervisorEvent/stopped(_:)`` with the ``SupervisorError`` of this code: supervision is
            /// over, and `run()` throws that error.
            case giveUp(SupervisorError.Code)
            /// Publish the restart's events, then wait as it says and report `backoffEnded(wokenAt:)`.
            case restart(Restart)
        }

        /// The failure to report first; `nil` for a shutdown (whose error is the shutdown itself) or a completion.
        let failure: SupervisorFailure?
        let outcome: Outcome

        /// Supervision is over, after `failure` (a stop decision) or without one.
        static func finish(_ failure: SupervisorFailure?, _ reason: SupervisorStopReason) -> FailureAction {
            FailureAction(failure: failure, outcome: .finish(reason))
        }

        /// Supervision gives up, for `code`, after `failure`.
        static func giveUp(_ code: SupervisorError.Code, _ failure: SupervisorFailure) -> FailureAction {
            FailureAction(failure: failure, outcome: .giveUp(code))
        }

        /// A restart after `failure`.
        static func restart(_ failure: SupervisorFailure, _ restart: Restart) -> FailureAction {
            FailureAction(failure: failure, outcome: .restart(restart))
        }

        /// For a restart that waits (see ``Restart/waits``), when its backoff ends on the timeline and how long it
        /// is; `nil` for anything else.
        var backoff: (until: Duration, delay: Duration)? {
            guard case .restart(let restart) = outcome, restart.waits else { return nil }
            return (restart.until, restart.delay)
        }

        /// Why supervision ends, when it does: for a give-up, with the error `run()` throws.
        func stopReason(supervisor name: String) -> SupervisorStopReason? {
            switch outcome {
            case .finish(let reason): return reason
            case .giveUp(let code):
                guard let failure else { return nil }
                return .gaveUp(
                    SupervisorError(
                        code: code,
                        name: name,
                        lastFailure: failure.error,
                        phase: failure.phase,
                        failures: failure.failures
                    )
                )
            case .restart: return nil
            }
        }

        func state(supervisor name: String) -> SupervisorState? {
            if case .restart(let restart) = outcome { return restart.state }
            return stopReason(supervisor: name).map { .stopped($0) }
        }

        func forEachEvent(supervisor name: String, _ body: (SupervisorEvent) -> Void) {
            guard let failure else {
                if let reason = stopReason(supervisor: name) { body(.stopped(reason)) }
                return
            }
            if case .restart(let restart) = outcome {
                restart.forEachEvent(after: failure, body)
                return
            }
            body(.failed(failure))
            if let reason = stopReason(supervisor: name) { body(.stopped(reason)) }
        }
    }

    /// A restart after a failure: the backoff it leads to, and how the runner waits.
    struct Restart {
        /// Which events the restart publishes, after its failure.
        enum Kind {
            /// ``SupervisorEvent/backingOff(delay:until:attempt:)``; state `.backingOff`.
            case backingOff
            /// ``SupervisorEvent/backingOff(delay:until:attempt:)`` while degraded; state `.degraded`.
            case degraded
            /// ``SupervisorEvent/degraded(probeInterval:)`` (this failure tripped the restart intensity), then
            /// ``SupervisorEvent/backingOff(delay:until:attempt:)``; state `.degraded`.
            case enteredDegraded(probeInterval: Duration)
            /// A zero delay: ``SupervisorEvent/backingOff(delay:until:attempt:)``, then the next start's
            /// ``SupervisorEvent/starting(attempt:)`` at once; state `.starting`.
            case atOnce
        }

        let delay: Duration
        /// When the backoff ends, on the timeline.
        let until: Duration
        /// The attempt that follows.
        let attempt: Int
        /// Where the events' instants count from, on the timeline (see `SupervisorStateMachine.originNanoseconds`).
        let originNanoseconds: Int64
        let kind: Kind
        /// When the budget's tokens this restart took in advance are paid back, on the timeline; `nil` when the
        /// budget had them (or there is none).
        let budgetUntil: Duration?

        /// Whether the runner waits for the backoff's deadline (on an alarm, which a wake-up or a shutdown also
        /// rings); without a delay it only yields, so that a resource that fails at once never keeps a thread of
        /// the cooperative pool.
        var waits: Bool { delay > .zero }

        /// `until` as the events give it: the time since `run()` began. Converted only where an event or a backoff
        /// state is made: a restart at once that nobody watches needs neither.
        var untilSinceOrigin: Duration { until - .exactNanoseconds(originNanoseconds) }

        /// The observed state once the restart's events are out.
        var state: SupervisorState {
            switch kind {
            case .atOnce: .starting(attempt: attempt)
            case .degraded, .enteredDegraded: .degraded(until: untilSinceOrigin)
            case .backingOff: .backingOff(delay: delay, until: untilSinceOrigin)
            }
        }

        /// The events of a restart after `failure`, in order.
        func forEachEvent(after failure: SupervisorFailure, _ body: (SupervisorEvent) -> Void) {
            body(.failed(failure))
            if case .enteredDegraded(let probeInterval) = kind { body(.degraded(probeInterval: probeInterval)) }
            if let budgetUntil { body(.waitingForBudget(until: budgetUntil - .exactNanoseconds(originNanoseconds))) }
            body(.backingOff(delay: delay, until: untilSinceOrigin, attempt: attempt))
            if case .atOnce = kind { body(.starting(attempt: attempt)) }
        }
    }
}

/// A single event that changes no state (`recovered`, `stopTimedOut`), published like an action's.
extension SupervisorEvent: SupervisorPublication {
    func state(supervisor name: String) -> SupervisorState? { nil }

    func forEachEvent(supervisor name: String, _ body: (SupervisorEvent) -> Void) {
        body(self)
    }
}
