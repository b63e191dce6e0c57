/// What a listener's callback may do with a handshake while a hand-over (``SRTListenSocket``'s restart) takes the port
/// over: the piece that lets the hand-over close the old listener with nothing left in its accept queue. A pure value,
/// kept under the same lock as ``PendingHandshakes``, so that a handshake passes the gate and is counted as admitted
/// in one step.
///
/// ```swift
/// var gate = HandOverGate()
/// gate.hold()                                             // new handshakes wait in the callback
/// gate.pass(waiting: false, expired: false)              // .wait: every earlier handshake is queued by now
/// gate.settle(inFlight: 0)                                // .released: the waiting one goes through
/// gate.pass(waiting: true, expired: false)               // .admit: it is queued and accepted next
/// gate.settle(inFlight: 0)                                // .closed: nothing waits or is in flight: close now
/// gate.pass(waiting: false, expired: false)               // .reject: it reached the listener as libsrt closed it
/// ```
///
/// Why: libsrt queues a completed handshake on the listener that ran its callback, and once that listener is closed
/// its queue can never be accepted (`srt_accept` refuses a closed listener) and is closed about a second later, after
/// the caller was told it is connected. One receive thread runs the callback and the rest of `newConnection` for one
/// handshake before it reads the next, so while a callback waits at the gate every earlier handshake has its place
/// in the queue; the hand-over drains it, lets the waiting one through, drains again, and closes the old listener only
/// when nothing waits and nothing admitted is on its way to the queue. From libsrt's close on, the old listener drops
/// handshakes unanswered (their callers repeat them to the new one); a handshake that reaches the callback between
/// the gate's close and libsrt's (libsrt had begun it already, or the close waits on libsrt's global lock) is
/// rejected as unavailable, since libsrt would queue it where no accept reaches. Not held until the close shows:
/// the receive thread would wait on libsrt's global lock while holding the listener lock.
struct HandOverGate: Sendable, Hashable {
    /// What a handshake's callback does now.
    enum Passage: Sendable, Hashable {
        /// Go on with the decision (no hand-over, or the one let through).
        case admit
        /// Wait and ask again (the callback holds the receive thread meanwhile, a bounded time).
        case wait
        /// Reject as unavailable: the gate closed, or the wait ran out.
        case reject
    }

    /// What ``settle(inFlight:)`` did.
    enum Settling: Sendable, Hashable {
        /// A waiting handshake was let through: drain again once it is queued.
        case released
        /// Admitted handshakes are still on their way to the queue: drain again.
        case inFlight
        /// Nothing waits and nothing is in flight: the gate is closed, the old listener may close now.
        case closed
    }

    private enum State: Sendable, Hashable {
        case open, holding, passing, closed
    }

    private var state = State.open
    /// A callback waits at the gate (at most one: one receive thread per listener).
    private(set) var isHolding = false
    /// Handshakes the gate rejected (for the hand-over's report).
    private(set) var rejected = 0

    /// Starts a hand-over: from now on a new handshake waits in its callback.
    mutating func hold() {
        if state == .open { state = .holding }
    }

    /// Closes the gate for good (also after a drain that ran out of time): a waiting handshake and every later one is
    /// rejected.
    mutating func close() {
        state = .closed
    }

    /// Asked by a handshake's callback, again after each wait. `waiting` says it waited already, `expired` that its
    /// wait ran out.
    mutating func pass(waiting: Bool, expired: Bool) -> Passage {
        switch state {
        case .open:
            isHolding = false
            return .admit
        case .passing where waiting:
            // The one let through; the next handshake waits again.
            state = .holding
            isHolding = false
            return .admit
        case .closed:
            return reject()
        case .holding, .passing:
            guard !expired else { return reject() }
            isHolding = true
            return .wait
        }
    }

    /// Asked by the hand-over after each drain, with the admitted handshakes that are not in the queue yet: lets a
    /// waiting handshake through, or closes the gate when none waits, none is in flight and `quiet` (no handshake for
    /// a while: one libsrt has begun reaches the callback within that while).
    mutating func settle(inFlight: Int, quiet: Bool = true) -> Settling {
        switch state {
        case .closed:
            return .closed
        case .open, .holding, .passing:
            if isHolding {
                state = .passing
                return .released
            }
            guard inFlight == 0, quiet else { return .inFlight }
            state = .closed
            return .closed
        }
    }

    private mutating func reject() -> Passage {
        isHolding = false
        rejected += 1
        return .reject
    }
}
