import Supervisor

/// A named retry policy under test: each client of a run gets its own fresh schedule from it.
///
/// ```swift
/// let policy = Policy("full jitter", try .exponential(initial: .milliseconds(10)).jitter(.full))
/// var schedule = policy.makeSchedule()
/// ```
struct Policy: Sendable {
    /// The name printed in the table and the CSV.
    let name: String
    private let make: @Sendable () -> any DelaySource

    /// A policy that hands every client a schedule of `backoff`.
    init(_ name: String, _ backoff: Backoff) {
        self.name = name
        self.make = { backoff.makeSchedule() }
    }

    /// A policy built from a local delay source (a candidate the library does not have).
    init(_ name: String, make: @escaping @Sendable () -> any DelaySource) {
        self.name = name
        self.make = make
    }

    /// A fresh schedule for one client, at attempt 1.
    func makeSchedule() -> any DelaySource {
        make()
    }
}

extension Policy {
    /// Brooker's base: his exponential curve is `min(cap, base·2^attempt)`.
    static let base = Duration.milliseconds(5)
    /// Brooker's cap, applied before jitter as the library does.
    static let cap = Duration.milliseconds(2_000)

    /// Brooker's `min(cap, base·2^attempt)` with the attempt counter incremented before the first backoff, so
    /// the first delay is `2·base`: 10, 20, 40, … ms. The library numbers attempts from 1 too, but its attempt 1
    /// gives `initial`, so `initial` is twice Brooker's base.
    static let brookerExponential = try! Backoff.exponential(initial: base * 2, multiplier: 2, maximum: cap)

    static let noJitter = Policy("no jitter", brookerExponential.jitter(.none))
    static let equalJitter = Policy("equal jitter", brookerExponential.jitter(.equal))
    static let fullJitter = Policy("full jitter", brookerExponential.jitter(.full))
    /// The library's decorrelated curve is Brooker's: `min(cap, U(base, 3·previous))`, starting from the base.
    static let decorrelated = Policy("decorrelated", try! .decorrelated(base: base, maximum: cap))

    /// The four policies of Brooker's post.
    static let brooker: [Policy] = [.noJitter, .equalJitter, .fullJitter, .decorrelated]
}
