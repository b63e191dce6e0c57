import Clocks
import Supervisor
import Testing

@testable import Supervisor

/// The state machine with a budget: what a restart takes, waits for or escalates to, as plain values. The
/// budget's test clock stays at zero unless a test moves it; the machine's instants are offsets of their own.
@Suite("Restart budget: the state machine")
struct RestartBudgetMachineTests {
    static func machine(_ policy: RestartPolicy) -> SupervisorStateMachine {
        SupervisorStateMachine(policy: policy, generator: SplitMix64(seed: 1))
    }

    static func restart(_ action: SupervisorStateMachine.FailureAction) -> SupervisorStateMachine.Restart? {
        if case .restart(let restart) = action.outcome { restart } else { nil }
    }

    static func events(_ action: SupervisorStateMachine.FailureAction) -> [String] {
        var events: [String] = []
        action.forEachEvent(supervisor: "test") { event in
            switch event {
            case .failed: events.append("failed")
            case .waitingForBudget(let until): events.append("waitingForBudget \(until)")
            case .backingOff(let delay, let until, _): events.append("backingOff \(delay) until \(until)")
            case .degraded(let interval): events.append("degraded \(interval)")
            default: events.append("\(event)")
            }
        }
        return events
    }

    @Test("restarts take the budget's tokens; a short budget lengthens the delay and a wake-up cannot cut that wait")
    func shortBudgetWaits() throws {
        let budget = try RestartBudget(capacity: 2, refillPerSecond: 0.25, clock: TestClock())
        var machine = Self.machine(try RestartPolicy(backoff: .constant(.seconds(1)), budget: budget))
        _ = machine.begin(at: .zero)
        for second in 1...2 {
            let action = machine.startFailed(Transient(), at: .seconds(second))
            #expect(Self.restart(action)?.delay == .seconds(1) && Self.restart(action)?.budgetUntil == nil)
            #expect(Self.events(action) == ["failed", "backingOff 1.0 seconds until \(Double(second + 1)) seconds"])
            _ = machine.backoffEnded()
        }
        #expect(budget.tokens == 0)
        // The third restart takes its token in advance: 4 s of refill at 0.25 a second, longer than the backoff.
        let third = machine.startFailed(Transient(), at: .seconds(10))
        #expect(Self.restart(third)?.delay == .seconds(4))
        #expect(
            Self.events(third) == [
                "failed", "waitingForBudget 14.0 seconds", "backingOff 4.0 seconds until 14.0 seconds",
            ])
        #expect(budget.tokens == -1)
        // A wake-up before the tokens are paid back waits for them.
        guard case .waitOut(let until) = machine.backoffEnded(wokenAt: .seconds(11)) else {
            Issue.record("a wake-up cut the wait for the budget short")
            return
        }
        #expect(until == .seconds(14))
        guard case .start(attempt: 4, _) = machine.backoffEnded() else {
            Issue.record("no start once the wait was over")
            return
        }
    }

    @Test("a backoff longer than the wait for tokens is kept, with waitingForBudget before it")
    func longerBackoffKept() throws {
        let budget = try RestartBudget(capacity: 1, refillPerSecond: 1, clock: TestClock())
        var machine = Self.machine(try RestartPolicy(backoff: .constant(.seconds(10)), budget: budget))
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        _ = machine.backoffEnded()
        let second = machine.startFailed(Transient(), at: .seconds(10))
        #expect(Self.restart(second)?.delay == .seconds(10))
        #expect(
            Self.events(second) == [
                "failed", "waitingForBudget 11.0 seconds", "backingOff 10.0 seconds until 20.0 seconds",
            ])
    }

    @Test("escalating with give-up: a short budget ends supervision with budgetExhausted and takes nothing")
    func escalateGivesUp() throws {
        let budget = try RestartBudget(capacity: 1, refillPerSecond: 0, whenExhausted: .escalate, clock: TestClock())
        var machine = Self.machine(try RestartPolicy(backoff: .constant(.seconds(1)), budget: budget))
        _ = machine.begin(at: .zero)
        #expect(Self.restart(machine.startFailed(Transient(), at: .zero)) != nil)
        _ = machine.backoffEnded()
        let action = machine.startFailed(Transient(), at: .seconds(1))
        #expect(action.stopReason(supervisor: "test")?.gaveUpCode == .budgetExhausted)
        #expect(budget.tokens == 0)
    }

    @Test("escalating with degrade: a short budget degrades to probes that go ahead without tokens")
    func escalateDegrades() throws {
        let budget = try RestartBudget(capacity: 1, refillPerSecond: 0, whenExhausted: .escalate, clock: TestClock())
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)), escalation: .degrade(probeInterval: .seconds(30), probeJitter: .none),
            budget: budget)
        var machine = Self.machine(policy)
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        _ = machine.backoffEnded()
        let entered = machine.startFailed(Transient(), at: .seconds(1))
        #expect(Self.restart(entered)?.enteredDegraded == true && Self.restart(entered)?.delay == .seconds(30))
        #expect(
            Self.events(entered) == ["failed", "degraded 30.0 seconds", "backingOff 30.0 seconds until 31.0 seconds"])
        _ = machine.backoffEnded()
        let probe = machine.startFailed(Transient(), at: .seconds(31))
        #expect(Self.restart(probe)?.enteredDegraded == false && Self.restart(probe)?.delay == .seconds(30))
        #expect(machine.isDegraded && budget.tokens == 0)
    }

    @Test("a shutdown during the backoff gives the restart's tokens back; a start keeps them; ready refills")
    func refundAndRefill() throws {
        let budget = try RestartBudget(capacity: 3, successRefill: 0.5, refillPerSecond: 1, clock: TestClock())
        var machine = Self.machine(try RestartPolicy(backoff: .constant(.seconds(1)), budget: budget))
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        #expect(budget.tokens == 2)
        _ = machine.backoffEnded()
        #expect(budget.tokens == 2)
        _ = machine.startSucceeded(at: .seconds(1))
        #expect(budget.tokens == 2.5)
        _ = machine.runEnded(Transient(), at: .seconds(2))
        #expect(budget.tokens == 1.5)
        _ = machine.backoffEnded(wokenAt: .seconds(2.5), stopping: true)
        #expect(budget.tokens == 2.5)
    }
}
