import Synchronization

/// Where a supervisor's task waits between events: one continuation, rung by whatever comes first — its backoff
/// deadline, a ``ResourceSupervisor/wake()``, the end of the running resource, a shutdown, or cancellation.
///
/// One per supervisor, reused for every wait: waiting costs no task and no timer of its own (deadlines go through
/// the shared `DeadlineScheduler`), which is what lets 100,000 supervisors park in a backoff cheaply.
///
/// Each wait has a generation, so a deadline scheduled for an earlier wait can never ring a later one.
///
/// Not final: `SupervisionRun` extends it, to save an allocation per supervisor. Sendable because all of its
/// state is behind the mutex.
class Alarm: @unchecked Sendable {
    /// Who rings.
    enum Ringer: Sendable {
        /// The deadline of the wait with this generation.
        case deadline(generation: UInt64)
        /// `wake()`: rings only a wait armed as wakeable (a backoff).
        case wake
        /// Shutdown, cancellation, the end of the running resource: rings any armed wait.
        case always
    }

    private struct State {
        var generation: UInt64 = 0
        var armed = false
        var wakeable = false
        var rung = false
        var parked: UnsafeContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Prepares a wait and returns its generation. A ring between `arm` and `park` is not lost.
    func arm(wakeable: Bool) -> UInt64 {
        state.withLock { state in
            state.generation &+= 1
            state.armed = true
            state.wakeable = wakeable
            state.rung = false
            return state.generation
        }
    }

    /// Suspends until the armed wait is rung; returns at once if it already was, or if the task is cancelled.
    func park() async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.rung || !state.armed { return true }
                    state.parked = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            ring(.always)
        }
    }

    /// Ends the armed wait, if `ringer` may end it; otherwise does nothing.
    func ring(_ ringer: Ringer) {
        let parked = state.withLock { state -> UnsafeContinuation<Void, Never>? in
            guard state.armed, !state.rung else { return nil }
            switch ringer {
            case .deadline(let generation) where generation != state.generation: return nil
            case .wake where !state.wakeable: return nil
            default: break
            }
            state.rung = true
            defer { state.parked = nil }
            return state.parked
        }
        parked?.resume()
    }

    /// Ends the current wait's life: later rings are ignored until the next `arm`.
    func disarm() {
        state.withLock { state in
            state.armed = false
            state.parked = nil
        }
    }
}
