/// Something that happened to a supervised resource, in the order it happened.
///
/// ```swift
/// for await event in supervisor.events() {
///     switch event {
///     case .ready: print("up")
///     case .backingOff(let delay, _, let attempt): print("retrying (attempt \(attempt)) in \(delay)")
///     case .stopped(let reason): print("stopped: \(reason)")
///     default: break
///     }
/// }
/// ```
///
/// Instants (`until`) are offsets from the moment the supervisor's `run()` began, on the supervisor's clock.
public enum SupervisorEvent: Sendable, CustomStringConvertible {
    /// `start()` is being called; `attempt` counts the starts of the current failing streak: 1 for the first start,
    /// 2 after a stable run's failure (which opens a new streak), and so on. (A shutdown
    /// that arrives just after this event ends supervision before the call: ``stopped(_:)`` follows.)
    case starting(attempt: Int)
    /// `start()` returned: the resource is ready and `run(_:)` is being called.
    case ready(attempt: Int)
    /// `start()` or `run(_:)` failed, and this is what was decided.
    case failed(SupervisorFailure)
    /// Waiting `delay` until the instant `until`, then starting attempt `attempt`.
    case backingOff(delay: Duration, until: Duration, attempt: Int)
    /// The policy's ``RestartBudget`` lacked this restart's cost: its tokens are taken in advance, and the next
    /// start waits for the budget's time refill until the instant `until` (a ``backingOff(delay:until:attempt:)``
    /// follows, its wait lengthened to at least that). A wake-up does not end this wait.
    case waitingForBudget(until: Duration)
    /// The restart intensity tripped: probing every `probeInterval` until a run is stable again.
    case degraded(probeInterval: Duration)
    /// A degraded supervisor's run has stayed ready for the policy's stable uptime: the degraded state is over, and
    /// the next failure starts a new streak on the normal schedule.
    case recovered
    /// `stop(_:)` did not return within the policy's stop timeout; the supervisor went on without waiting for it.
    case stopTimedOut(after: Duration)
    /// Supervision ended; this is the last event.
    case stopped(SupervisorStopReason)

    public var description: String {
        switch self {
        case .starting(let attempt): "starting (attempt \(attempt))"
        case .ready(let attempt): "ready (attempt \(attempt))"
        case .failed(let failure): "failed: \(failure)"
        case .backingOff(let delay, _, let attempt): "backing off \(delay) before attempt \(attempt)"
        case .waitingForBudget(let until): "waiting for the restart budget until \(until)"
        case .degraded(let interval): "degraded: probing every \(interval)"
        case .recovered: "recovered from the degraded state"
        case .stopTimedOut(let timeout): "stop timed out after \(timeout)"
        case .stopped(let reason): "stopped: \(reason)"
        }
    }
}
