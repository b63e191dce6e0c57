import Testing

@testable import Supervisor

/// The budget's arithmetic alone: no clock, no lock; times are plain offsets.
@Suite("Restart budget: the token bucket")
struct TokenBucketTests {
    static func bucket(
        capacity: Double = 3,
        cost: Double = 1,
        successRefill: Double = 0.5,
        refillPerSecond: Double = 2
    ) -> TokenBucket {
        TokenBucket(
            capacity: capacity, cost: cost, successRefill: successRefill, refillPerSecond: refillPerSecond, at: .zero)
    }

    @Test("a full bucket grants capacity/cost restarts, then restarts that may wait queue up at the refill rate")
    func grantsThenQueues() {
        var bucket = Self.bucket()
        let grants = (0..<3).map { _ in bucket.withdraw(at: .zero, waitIfShort: true) }
        #expect(grants == Array(repeating: .granted, count: 3))
        // 2 tokens a second: each further restart waits half a second longer than the one before.
        let waits = (0..<4).map { _ in bucket.withdraw(at: .zero, waitIfShort: true) }
        #expect(waits == [0.5, 1, 1.5, 2].map { .wait(.delay(seconds: $0)) })
        #expect(bucket.tokens(at: .zero) == -4)
        // By the last one's instant the debt is paid back, and nothing more.
        #expect(bucket.tokens(at: .seconds(2)) == 0)
    }

    @Test("a bucket that may not wait refuses and takes nothing; the time refill grants again")
    func refusesWithoutTaking() {
        var bucket = Self.bucket(capacity: 1)
        #expect(bucket.withdraw(at: .zero, waitIfShort: false) == .granted)
        #expect(bucket.withdraw(at: .zero, waitIfShort: false) == .refused)
        #expect(bucket.withdraw(at: .milliseconds(100), waitIfShort: false) == .refused)
        #expect(bucket.tokens(at: .milliseconds(100)) == 0.2)
        #expect(bucket.withdraw(at: .milliseconds(500), waitIfShort: false) == .granted)
    }

    @Test("without a time refill, a short bucket refuses even a restart that may wait: no wait would ever end")
    func noTimeRefillRefuses() {
        var bucket = Self.bucket(capacity: 1, refillPerSecond: 0)
        #expect(bucket.withdraw(at: .zero, waitIfShort: true) == .granted)
        #expect(bucket.withdraw(at: .seconds(1_000), waitIfShort: true) == .refused)
        // Two successes pay for the next restart.
        bucket.deposit(at: .seconds(1_000))
        bucket.deposit(at: .seconds(1_000))
        #expect(bucket.withdraw(at: .seconds(1_000), waitIfShort: true) == .granted)
    }

    @Test("successes refill up to the capacity, and pay a debt down: later restarts wait less")
    func successesRefill() {
        var bucket = Self.bucket()
        for _ in 0..<10 { bucket.deposit(at: .zero) }
        #expect(bucket.tokens(at: .zero) == 3)
        for _ in 0..<5 { _ = bucket.withdraw(at: .zero, waitIfShort: true) }
        #expect(bucket.tokens(at: .zero) == -2)
        for _ in 0..<3 { bucket.deposit(at: .zero) }
        // Debt 0.5 after three successes: the next restart waits for 1.5 tokens, 0.75 s, rather than 1.5 s.
        #expect(bucket.withdraw(at: .zero, waitIfShort: true) == .wait(.milliseconds(750)))
    }

    @Test("the time refill stops at the capacity; a refund gives a restart's cost back")
    func refillCapsAndRefunds() {
        var bucket = Self.bucket()
        _ = bucket.withdraw(at: .zero, waitIfShort: true)
        #expect(bucket.tokens(at: .seconds(3_600)) == 3)
        _ = bucket.withdraw(at: .zero, waitIfShort: true)
        bucket.refund(at: .zero)
        #expect(bucket.tokens(at: .zero) == 2)
    }

    @Test("instants out of order add nothing, and never take tokens away")
    func outOfOrderInstants() {
        var bucket = Self.bucket(capacity: 10)
        for _ in 0..<10 { _ = bucket.withdraw(at: .seconds(1), waitIfShort: true) }
        #expect(bucket.tokens(at: .seconds(1)) == 0)
        // A caller that read the clock before the last update took the lock.
        #expect(bucket.withdraw(at: .milliseconds(500), waitIfShort: true) == .wait(.milliseconds(500)))
        #expect(bucket.tokens(at: .seconds(1)) == -1)
    }

    @Test("huge capacities, rates, debts and gaps neither trap nor leave numbers that are not finite")
    func hugeValuesSaturate() {
        var bucket = Self.bucket(capacity: 1e12, cost: 1e12, successRefill: 1e12, refillPerSecond: 1e-300)
        #expect(bucket.withdraw(at: .zero, waitIfShort: true) == .granted)
        // A debt that a tiny rate would take forever to pay back waits the longest delay, not forever.
        #expect(bucket.withdraw(at: .zero, waitIfShort: true) == .wait(Backoff.longestDelay))
        var fast = Self.bucket(capacity: 1e12, refillPerSecond: 1e12)
        _ = fast.withdraw(at: .zero, waitIfShort: true)
        let late = Duration.seconds(Int64.max / 2)
        #expect(fast.tokens(at: late) == 1e12)
        for _ in 0..<1_000 { _ = fast.withdraw(at: late, waitIfShort: true) }
        #expect(fast.tokens(at: late).isFinite)
    }
}
