import Testing

@testable import SRTAdapter

/// The hand-over gate on its own: what a handshake's callback and the draining hand-over are told, step by step.
@Suite("Hand-over gate")
struct HandOverGateTests {
    @Test("without a hand-over every handshake goes on to the decision")
    func openGate() {
        var gate = HandOverGate()
        #expect(gate.pass(waiting: false, expired: false) == .admit)
        #expect(gate.rejected == 0)
    }

    @Test("held, let through one at a time, closed only when nothing waits and nothing is in flight")
    func handOver() {
        var gate = HandOverGate()
        gate.hold()
        // Nothing waits yet, but an admission is on its way to the queue: drain again.
        #expect(gate.settle(inFlight: 1) == .inFlight)
        #expect(gate.pass(waiting: false, expired: false) == .wait)
        #expect(gate.isHolding)
        // A waiting handshake is let through before anything closes.
        #expect(gate.settle(inFlight: 0) == .released)
        #expect(gate.pass(waiting: true, expired: false) == .admit)
        #expect(!gate.isHolding)
        // The next one waits again.
        #expect(gate.pass(waiting: false, expired: false) == .wait)
        #expect(gate.settle(inFlight: 0) == .released)
        #expect(gate.pass(waiting: true, expired: false) == .admit)
        // The one let through is admitted, not yet queued.
        #expect(gate.settle(inFlight: 1) == .inFlight)
        #expect(gate.settle(inFlight: 0) == .closed)
        // After the close: rejected at once, and counted.
        #expect(gate.pass(waiting: false, expired: false) == .reject)
        #expect(gate.rejected == 1)
        #expect(gate.settle(inFlight: 0) == .closed)
    }

    @Test("a wait that runs out is rejected; a forced close rejects the waiting handshake")
    func bounds() {
        var gate = HandOverGate()
        gate.hold()
        #expect(gate.pass(waiting: false, expired: false) == .wait)
        #expect(gate.pass(waiting: true, expired: true) == .reject)
        #expect(!gate.isHolding)
        #expect(gate.pass(waiting: false, expired: false) == .wait)
        gate.close()
        #expect(gate.pass(waiting: true, expired: false) == .reject)
        #expect(gate.rejected == 2)
    }
}
