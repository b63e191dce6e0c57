import Clocks
import Supervisor
import Testing

/// Every value a budget cannot work with throws a typed error at construction.
@Suite("Restart budget: configuration")
struct RestartBudgetConfigurationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var capacity = 10.0
        var restartCost = 1.0
        var successRefill = 0.1
        var refillPerSecond = 1.0
        var exhaustion = RestartBudget.Exhaustion.wait
        let option: String
        let code: ConfigurationError.Code

        var testDescription: String {
            "\(option) (\(code)): capacity \(capacity), cost \(restartCost), refill \(successRefill), "
                + "\(refillPerSecond)/s, \(exhaustion)"
        }
    }

    static let invalid: [Case] = [
        Case(capacity: 0, option: "capacity", code: .outOfRange),
        Case(capacity: -1, option: "capacity", code: .outOfRange),
        Case(capacity: 1e13, option: "capacity", code: .outOfRange),
        Case(capacity: .infinity, option: "capacity", code: .notFinite),
        Case(capacity: .nan, option: "capacity", code: .notFinite),
        Case(restartCost: 0, option: "restartCost", code: .outOfRange),
        Case(restartCost: -0.5, option: "restartCost", code: .outOfRange),
        Case(restartCost: 11, option: "restartCost", code: .outOfRange),
        Case(restartCost: .nan, option: "restartCost", code: .notFinite),
        Case(successRefill: 0, option: "successRefill", code: .outOfRange),
        Case(successRefill: 10.5, option: "successRefill", code: .outOfRange),
        Case(successRefill: -.infinity, option: "successRefill", code: .notFinite),
        Case(refillPerSecond: -1, option: "refillPerSecond", code: .outOfRange),
        Case(refillPerSecond: 2e12, option: "refillPerSecond", code: .outOfRange),
        Case(refillPerSecond: .infinity, option: "refillPerSecond", code: .notFinite),
        // Waiting on a bucket that time never refills would deadlock a fleet that is wholly down.
        Case(refillPerSecond: 0, exhaustion: .wait, option: "refillPerSecond", code: .inconsistent),
    ]

    @Test("invalid values throw ConfigurationError naming the option", arguments: invalid)
    func invalidThrows(_ invalid: Case) {
        #expect {
            _ = try RestartBudget(
                capacity: invalid.capacity,
                restartCost: invalid.restartCost,
                successRefill: invalid.successRefill,
                refillPerSecond: invalid.refillPerSecond,
                whenExhausted: invalid.exhaustion
            )
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.option == invalid.option && error.code == invalid.code
        }
    }

    @Test("the edges are accepted: no time refill when escalating, the largest capacity, cost equal to capacity")
    func edgesAccepted() throws {
        let escalating = try RestartBudget(capacity: 1, refillPerSecond: 0, whenExhausted: .escalate)
        #expect(escalating.refillPerSecond == 0 && escalating.tokens == 1)
        let largest = try RestartBudget(
            capacity: RestartBudget.largestCapacity,
            restartCost: RestartBudget.largestCapacity,
            successRefill: RestartBudget.largestCapacity,
            refillPerSecond: RestartBudget.largestCapacity
        )
        #expect(largest.tokens == RestartBudget.largestCapacity)
        #expect(largest.withdraw() == .zero)
        #expect(largest.withdraw().map { $0 > .zero } == true)
    }

    @Test("the public withdraw, success and refund move the tokens on the budget's clock")
    func publicOperations() async throws {
        let clock = TestClock()
        let budget = try RestartBudget(capacity: 2, successRefill: 0.5, refillPerSecond: 1, clock: clock)
        #expect(budget.withdraw() == .zero && budget.withdraw() == .zero)
        #expect(budget.withdraw() == .seconds(1))
        #expect(budget.tokens == -1)
        budget.recordSuccess()
        budget.refund()
        #expect(budget.tokens == 0.5)
        await clock.advance(by: .milliseconds(500))
        #expect(budget.tokens == 1)
        let escalating = try RestartBudget(capacity: 1, refillPerSecond: 1, whenExhausted: .escalate, clock: clock)
        #expect(escalating.withdraw() == .zero && escalating.withdraw() == nil && escalating.tokens == 0)
    }
}
