import Testing

@testable import SRTAdapter

/// The log rate limiter under virtual time: every instant is made from `start`, no clock is read.
@Suite("Log rate limiter")
struct LogRateLimiterTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        start + .milliseconds(milliseconds)
    }

    @Test("a steady flood of one kind: the burst, then one summary per interval with the count")
    func steadyFlood() {
        var limiter = LogRateLimiter<Int>(burst: 3, interval: .seconds(1))
        var logged = 0
        var summaries: [LogRateLimiter<Int>.Summary] = []
        // 10 messages a second for 5 s.
        for tick in 0..<50 {
            summaries += limiter.summaries(now: at(tick * 100))
            if limiter.admit("kmreq", message: tick, now: at(tick * 100)) == .log { logged += 1 }
        }
        // The flood stops: the last count comes out once the kind was quiet for an interval.
        summaries += limiter.summaries(now: at(4_900 + 1_000))
        #expect(logged == 3)
        #expect(summaries.count == 5)
        #expect(summaries.map(\.suppressed).reduce(0, +) == 47)
        #expect(summaries.allSatisfy { $0.period <= .seconds(1) })
        #expect(summaries.last?.lastMessage == 49)
        #expect(limiter.nextSummaryDue(now: at(6_000)) == nil)
    }

    @Test("kinds are counted apart; an occasional message is always logged")
    func kindsApart() {
        var limiter = LogRateLimiter<String>(burst: 2, interval: .seconds(1))
        for index in 0..<10 { _ = limiter.admit("flood", message: "f\(index)", now: at(index)) }
        #expect(limiter.admit("rare", message: "r", now: at(20)) == .log)
        #expect(limiter.admit("rare", message: "r", now: at(1_500)) == .log)
        #expect(limiter.admit("rare", message: "r", now: at(3_000)) == .log)
        let summaries = limiter.summaries(now: at(3_000))
        #expect(summaries.map(\.key) == ["flood"])
        #expect(summaries.first?.suppressed == 8)
    }

    @Test("after a quiet interval a new episode starts with a new burst; the old count is not lost")
    func newEpisode() {
        var limiter = LogRateLimiter<Int>(burst: 1, interval: .seconds(1))
        #expect(limiter.admit("k", message: 1, now: at(0)) == .log)
        #expect(limiter.admit("k", message: 2, now: at(10)) == .suppress)
        #expect(limiter.nextSummaryDue(now: at(10)) == at(1_000))
        // Quiet for more than an interval, and nobody asked for summaries in between.
        #expect(limiter.admit("k", message: 3, now: at(2_000)) == .log)
        let summaries = limiter.summaries(now: at(2_000))
        #expect(summaries.map(\.suppressed) == [1])
        #expect(summaries.first?.lastMessage == 2)
    }

    @Test("a burst of 0 counts every message; more kinds than tracked are logged")
    func limits() {
        var silent = LogRateLimiter<Int>(burst: 0, interval: .seconds(1))
        #expect(silent.admit("k", message: 1, now: at(0)) == .suppress)
        #expect(silent.admit("k", message: 2, now: at(1)) == .suppress)
        #expect(silent.summaries(now: at(1_000)).map(\.suppressed) == [2])
        var narrow = LogRateLimiter<Int>(burst: 1, interval: .seconds(1), maxKinds: 2)
        _ = narrow.admit("a", message: 0, now: at(0))
        _ = narrow.admit("b", message: 0, now: at(0))
        #expect(narrow.admit("c", message: 0, now: at(0)) == .log)
        #expect(narrow.admit("c", message: 0, now: at(1)) == .log)
    }

    @Test("the settings are validated")
    func settings() throws {
        #expect(throws: (any Error).self) { try SRTLogRateLimit(burst: -1, interval: .seconds(1)) }
        #expect(throws: (any Error).self) { try SRTLogRateLimit(burst: 1, interval: .zero) }
        #expect(throws: (any Error).self) { try SRTLogRateLimit(burst: 1, interval: .seconds(3_601)) }
        #expect(try SRTLogRateLimit(burst: 0, interval: .milliseconds(1)).burst == 0)
        #expect(SRTLogRateLimit.standard.burst == 5)
    }
}
