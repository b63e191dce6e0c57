/// The arithmetic of a ``RestartBudget``: a token bucket as a plain value, with the time passed in.
///
/// The balance refills at `refillPerSecond` up to `capacity`, and by `successRefill` for every success. A
/// restart takes `cost` tokens. When the balance is short and the restart may wait, it takes them anyway, leaving
/// the balance below zero, and waits until the time refill has paid that debt back: restarts that find the bucket
/// short go one after another at the refill rate, in the order they asked, each woken at its own instant (no herd of
/// waiters all woken by the same tokens). Successes pay the debt down too, which shortens the waits of the
/// restarts that ask after them.
///
/// ```swift
/// var bucket = TokenBucket(capacity: 2, cost: 1, successRefill: 0.5, refillPerSecond: 1, at: .zero)
/// bucket.withdraw(at: .zero, waitIfShort: true)  // .granted
/// bucket.withdraw(at: .zero, waitIfShort: true)  // .granted
/// bucket.withdraw(at: .zero, waitIfShort: true)  // .wait(.seconds(1))
/// bucket.withdraw(at: .zero, waitIfShort: false)  // .refused
/// ```
struct TokenBucket: Sendable, Equatable {
    /// What a restart that asked for its cost is to do.
    enum Withdrawal: Equatable, Sendable {
        /// The tokens were there and are taken: restart after the backoff.
        case granted
        /// The tokens are taken in advance: restart no earlier than this long from now.
        case wait(Duration)
        /// The tokens were not there and nothing was taken.
        case refused
    }

    let capacity: Double
    let cost: Double
    let successRefill: Double
    let refillPerSecond: Double
    /// The tokens at `updatedAt`: at most `capacity`, below zero while restarts wait for tokens taken in advance.
    private(set) var balance: Double
    /// The instant `balance` was brought up to date at, on the budget's clock.
    private var updatedAt: Duration

    /// A full bucket at `now`.
    init(capacity: Double, cost: Double, successRefill: Double, refillPerSecond: Double, at now: Duration) {
        self.capacity = capacity
        self.cost = cost
        self.successRefill = successRefill
        self.refillPerSecond = refillPerSecond
        self.balance = capacity
        self.updatedAt = now
    }

    /// The balance at `now`, with the time refill up to then.
    func tokens(at now: Duration) -> Double {
        var copy = self
        copy.refill(to: now)
        return copy.balance
    }

    /// A restart asks for `cost` tokens at `now`.
    mutating func withdraw(at now: Duration, waitIfShort: Bool) -> Withdrawal {
        refill(to: now)
        if balance >= cost {
            balance -= cost
            return .granted
        }
        // Without a time refill nothing would ever pay a debt back: the budget refuses instead.
        guard waitIfShort, refillPerSecond > 0 else { return .refused }
        balance -= cost
        // Saturates to `Backoff.longestDelay` for a debt that a slow refill takes longer than that to pay back.
        return .wait(.delay(seconds: -balance / refillPerSecond))
    }

    /// A success at `now` adds `successRefill`.
    mutating func deposit(at now: Duration) {
        add(successRefill, at: now)
    }

    /// A restart that took its tokens did not happen (its supervisor stopped first): they go back.
    mutating func refund(at now: Duration) {
        add(cost, at: now)
    }

    private mutating func add(_ amount: Double, at now: Duration) {
        refill(to: now)
        balance = min(capacity, balance + amount)
    }

    /// Adds the time refill since `updatedAt`. Instants from callers that read the clock just before another
    /// caller took the lock may come slightly out of order: an earlier one adds nothing.
    private mutating func refill(to now: Duration) {
        guard now > updatedAt else { return }
        let elapsed = (now - updatedAt).inSeconds
        updatedAt = now
        // `min` with the capacity also brings an infinite product (a huge gap at a huge rate) back to a number.
        balance = min(capacity, balance + elapsed * refillPerSecond)
    }
}
