import Foundation
import Logging
import Supervisor
import Synchronization
import Testing

/// A fleet whose dependency comes back at one instant, under virtual time (a `ManualClock`): how hard the fleet hits
/// it then, with and without wake-ups, their spread, and a shared restart budget. Each supervisor's resource fails
/// every start until `comeback` (10 s) and succeeds from then on; policies are the standard ones (exponential backoff
/// from 100 ms to 30 s with full jitter), seeded per supervisor.
///
/// `HERD_SUPERVISORS` sets the fleet (1,000 by default; `Docs/network-change-wake-ups.md` shows 10,000) and
/// `HERD_CSV` a file for the attempts per 100 ms, which `Benchmarks/plot_herd.py` draws.
@Suite("Herd: a fleet whose dependency comes back at one instant")
struct HerdMeasurementTests {
    static let comeback = Duration.seconds(10)
    static let step = Duration.milliseconds(10)
    /// The simulation ends here at the latest, all ready or not.
    static let horizon = Duration.seconds(70)

    /// What one case does at the comeback.
    struct Case: Sendable {
        let name: String
        /// The spread of a wake-up at the comeback; nil: no wake-up.
        let wake: Duration?
        /// Shares a restart budget (capacity N/10, refill N/20 a second, waits when empty).
        let budget: Bool
    }

    static let cases = [
        Case(name: "backoff only", wake: nil, budget: false),
        Case(name: "woken, no spread", wake: .zero, budget: false),
        Case(name: "woken, 100 ms spread", wake: .milliseconds(100), budget: false),
        Case(name: "woken, 1 s spread", wake: .seconds(1), budget: false),
        Case(name: "budget, backoff only", wake: nil, budget: true),
        Case(name: "budget, woken, 100 ms spread", wake: .milliseconds(100), budget: true),
    ]

    /// What a case measured.
    struct Outcome: Sendable {
        let name: String
        /// Start attempts before and from the comeback.
        let before: Int
        let after: Int
        /// The most attempts from the comeback on in one 10 ms and one 100 ms window.
        let peak10: Int
        let peak100: Int
        /// From the comeback until every supervisor was ready; nil if not within the horizon.
        let allReady: Duration?
        /// Attempts per 100 ms window, from the start.
        let bins: [Int]
        /// When each attempt from the comeback on began.
        let afterInstants: [Duration]
    }

    /// Yields until `progress` stays the same over forty rounds of yields in a row (at most 2,000 rounds): stricter
    /// than the wake-spread tests' ten, since a thousand supervisors may come due in one step.
    static func settle(_ progress: () -> Int) async {
        var (last, still) = (progress(), 0)
        for _ in 0..<2_000 where still < 40 {
            for _ in 0..<5 { await Task.yield() }
            let now = progress()
            (last, still) = (now, now == last ? still + 1 : 0)
        }
    }

    static var fleet: Int {
        ProcessInfo.processInfo.environment["HERD_SUPERVISORS"].flatMap(Int.init) ?? 1_000
    }

    static func run(_ herdCase: Case, fleet count: Int) async throws -> Outcome {
        let clock = ManualClock()
        let origin = clock.now
        let attempts = Mutex<[Duration]>([])
        let ready = Atomic(0)
        /// When the last start that succeeded began.
        let lastReady = Mutex(Duration.zero)
        let budget =
            herdCase.budget
            ? try RestartBudget(
                capacity: Double(count) / 10, refillPerSecond: Double(count) / 20, name: "herd", clock: clock)
            : nil
        let policy = try RestartPolicy(budget: budget, stopTimeout: nil)
        let fleet = (0..<count).map { index in
            let resource = RestartableResource<Int>(
                start: {
                    let now = origin.duration(to: clock.now)
                    attempts.withLock { $0.append(now) }
                    guard now >= comeback else { throw Transient() }
                    lastReady.withLock { $0 = max($0, now) }
                    ready.add(1, ordering: .relaxed)
                    return index
                },
                run: { _ in try await Task.sleep(for: .seconds(3_600)) })
            return ResourceSupervisor(
                resource, name: "herd-\(index)", policy: policy, clock: clock,
                generator: { SplitMix64(seed: UInt64(index)) }, logger: WakeSpreadTests.quiet)
        }
        let tasks = fleet.map { supervisor in Task { try await supervisor.run() } }
        let progress = { attempts.withLock { $0.count } + ready.load(ordering: .relaxed) }
        await Self.settle(progress)
        while origin.duration(to: clock.now) < horizon, ready.load(ordering: .relaxed) < count {
            clock.advance(by: step)
            if origin.duration(to: clock.now) == comeback, let spread = herdCase.wake {
                for supervisor in fleet { supervisor.wake(spread: spread) }
            }
            await Self.settle(progress)
        }
        // Read from the starts' own instants, not from this loop's polling.
        let allReadyAt = ready.load(ordering: .relaxed) == count ? lastReady.withLock { $0 } - comeback : nil
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }

        let all = attempts.withLock { $0 }
        let after = all.filter { $0 >= comeback }
        func peak(_ width: Duration) -> Int {
            var counts: [Int: Int] = [:]
            for instant in after { counts[Int((instant - comeback) / width), default: 0] += 1 }
            return counts.values.max() ?? 0
        }
        let binCount = Int(horizon / .milliseconds(100))
        var bins = Array(repeating: 0, count: binCount)
        for instant in all { bins[min(binCount - 1, Int(instant / .milliseconds(100)))] += 1 }
        return Outcome(
            name: herdCase.name, before: all.count - after.count, after: after.count, peak10: peak(.milliseconds(10)),
            peak100: peak(.milliseconds(100)), allReady: allReadyAt, bins: bins, afterInstants: after)
    }

    @Test("the comeback: a wake-up's spread caps the peak, the budget caps the attempts while down")
    func comeback() async throws {
        let count = Self.fleet
        let began = ContinuousClock.now
        var outcomes: [String: Outcome] = [:]
        print(
            "| case | attempts while down | attempts from the comeback | peak / 10 ms | peak / 100 ms | all ready after |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        let only = ProcessInfo.processInfo.environment["HERD_CASE"]
        for herdCase in Self.cases where only == nil || herdCase.name == only {
            // At the priority of the supervisors' shared deadline scheduler (a detached task): a test task above it
            // would take the pool from it between its yields, and the starts would be recorded late.
            let outcome = try await Task.detached(priority: .medium) { try await Self.run(herdCase, fleet: count) }
                .value
            outcomes[herdCase.name] = outcome
            let ready = outcome.allReady.map { "\(Int($0 / .milliseconds(1))) ms" } ?? "not within 60 s"
            print(
                "| \(outcome.name) | \(outcome.before) | \(outcome.after) | \(outcome.peak10) | \(outcome.peak100) "
                    + "| \(ready) |")
        }
        print("herd: \(count) supervisors, \(Self.cases.count) cases in \(ContinuousClock.now - began)")
        if let path = ProcessInfo.processInfo.environment["HERD_CSV"] {
            var csv = "case,window_start_ms,attempts\n"
            for herdCase in Self.cases {
                guard let outcome = outcomes[herdCase.name] else { continue }
                for (index, attempts) in outcome.bins.enumerated() {
                    csv += "\"\(herdCase.name)\",\(index * 100),\(attempts)\n"
                }
            }
            try csv.write(toFile: path, atomically: true, encoding: .utf8)
        }

        let plain = try #require(outcomes["backoff only"])
        let together = try #require(outcomes["woken, no spread"])
        let spread = try #require(outcomes["woken, 100 ms spread"])
        let wide = try #require(outcomes["woken, 1 s spread"])
        let budgeted = try #require(outcomes["budget, backoff only"])
        // Woken without a spread, the whole fleet starts in one 10 ms window (but one that was failing a start at that
        // instant: its minimum restart delay, 5 ms, may carry it into the next).
        #expect(together.peak10 >= count * 99 / 100, "\(together.peak10)")
        // The spread: about a tenth of the fleet per 10 ms over 100 ms, per 100 ms over 1 s (uniform, seeded).
        #expect(spread.peak10 <= count * 15 / 100, "\(spread.peak10)")
        #expect(wide.peak100 <= count * 15 / 100, "\(wide.peak100)")
        // Woken, the fleet is back within the spread (and one 10 ms step); by backoff alone, far later. 99 %: in a
        // full parallel run a supervisor's task can run late, find its start in progress at the wake-up (which a
        // start does not remember) and come back only at its own backoff's end.
        let withinSpread = spread.afterInstants.filter { $0 <= Self.comeback + .milliseconds(110) }.count
        #expect(withinSpread >= count * 99 / 100, "\(withinSpread) of \(count) back within the spread")
        #expect((plain.allReady ?? Self.horizon) > .seconds(5), "\(String(describing: plain.allReady))")
        // The budget while down: each supervisor's first start, the capacity and the refill, nothing more.
        let allowed = count + count / 10 + count / 20 * Int(Self.comeback / .seconds(1)) + count / 20
        #expect(budgeted.before <= allowed, "\(budgeted.before) attempts while down, at most \(allowed)")
        #expect(budgeted.before * 3 < plain.before, "\(budgeted.before) against \(plain.before)")
    }
}
