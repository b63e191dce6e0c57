import Logging
import Supervisor
import Synchronization
import Testing

/// Wake-ups with a spread, through the runner under virtual time (a `ManualClock`): supervisors woken together
/// start spread over the window, and a storm of wake-ups does not make a failing supervisor give up.
@Suite("Wake spread")
struct WakeSpreadTests {
    static let quiet = Logger(label: "wake-spread", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The instants (since the test's origin) at which the supervisors' second starts began.
    final class StartLog: Sendable {
        private let instants = Mutex<[Duration]>([])
        func record(_ instant: Duration) { instants.withLock { $0.append(instant) } }
        var all: [Duration] { instants.withLock { $0 } }
        var count: Int { instants.withLock { $0.count } }
    }

    /// Yields until `progress` stays the same over ten rounds of yields in a row (the pool has run what the last
    /// step made ready), at most `rounds` rounds.
    static func settle(rounds: Int = 500, _ progress: () -> Int) async {
        var (last, still) = (progress(), 0)
        for _ in 0..<rounds where still < 10 {
            for _ in 0..<5 { await Task.yield() }
            let now = progress()
            (last, still) = (now, now == last ? still + 1 : 0)
        }
    }

    @Test("10,000 supervisors woken at one instant start uniformly spread over the default 100 ms window")
    func fleetStartsSpreadUniformly() async throws {
        let began = ContinuousClock.now
        let clock = ManualClock()
        let origin = clock.now
        let count = 10_000
        let spread = ResourceSupervisor<RestartableResource<Int>>.defaultWakeSpread
        #expect(spread == .milliseconds(100))
        let log = StartLog()
        let backingOff = Atomic(0)
        let fleet = (0..<count).map { index in
            let calls = Atomic(0)
            let resource = RestartableResource<Int>(
                start: {
                    // The first start fails; the second (the woken one) records when it began.
                    if calls.add(1, ordering: .relaxed).newValue == 1 {
                        backingOff.add(1, ordering: .relaxed)
                        throw Transient()
                    }
                    log.record(origin.duration(to: clock.now))
                    return index
                },
                // Serves until cancelled, on the real clock: nothing more for the test clock to track.
                run: { _ in try await Task.sleep(for: .seconds(3_600)) }
            )
            return ResourceSupervisor(
                resource, name: "fleet-\(index)",
                policy: try! RestartPolicy(backoff: .constant(.seconds(3_600)), stopTimeout: nil),
                clock: clock, generator: { SplitMix64(seed: UInt64(index)) }, logger: Self.quiet)
        }
        let tasks = fleet.map { supervisor in Task { try await supervisor.run() } }
        // Every supervisor failed once and is in its hour-long backoff.
        await Self.settle { backingOff.load(ordering: .relaxed) }
        #expect(backingOff.load(ordering: .relaxed) == count)
        // Past the minimum restart delay, so that only the spread decides.
        clock.advance(by: .seconds(1))
        for supervisor in fleet { supervisor.wake() }
        await Self.settle { 0 }
        // Through the window 1 ms at a time; each start is recorded at the end of the millisecond it fell in.
        for _ in 0..<110 {
            clock.advance(by: .milliseconds(1))
            await Self.settle { log.count }
        }
        let offsets = log.all.map { (($0 - .seconds(1)) / .milliseconds(1)) }
        #expect(offsets.count == count)
        // None before the window. After it, a few recorded late: in a full parallel run (beside the fleet measurement)
        // a start's task can run a step after the one it fell in (101 ms, once).
        let early = offsets.filter { $0 < 0 }
        let late = offsets.filter { $0 > 100 }
        #expect(early.isEmpty, "\(early.count) starts before the window: \(early.prefix(10)) ms")
        #expect(late.count <= count / 1_000, "\(late.count) starts after the window: \(late.prefix(10)) ms")
        // Ten 10 ms bins; a start recorded at the end of millisecond m began in (m - 1, m], so bin (m - 1) / 10.
        var bins = Array(repeating: 0, count: 10)
        for offset in offsets { bins[min(9, max(0, Int((offset - 1).rounded(.up)) / 10))] += 1 }
        let expected = Double(count) / 10
        let chiSquare = bins.reduce(0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        // χ² with 9 degrees of freedom: 27.88 is its 99.9th percentile, so a uniform spread fails this one time in
        // a thousand seeds; the seeds are fixed, so it is the same on every run. Starting all at the wake-up gives
        // 90,000.
        #expect(chiSquare < 27.88, "χ² \(chiSquare), bins \(bins)")
        print("wake spread: \(count) supervisors, bins \(bins), χ² \(chiSquare), took \(ContinuousClock.now - began)")
        for task in tasks { task.cancel() }
        for task in tasks { try await task.value }
    }

    /// A supervisor whose starts always fail, woken every millisecond for `duration`; returns how many times it
    /// started and how it ended, if it did.
    static func storm(
        _ policy: RestartPolicy, duration: Duration
    ) async throws -> (starts: Int, stop: SupervisorStopReason?) {
        let clock = ManualClock()
        let starts = Atomic(0)
        let resource = RestartableResource<Int>(
            start: {
                starts.add(1, ordering: .relaxed)
                throw Transient()
            },
            run: { _ in }
        )
        let supervisor = ResourceSupervisor(
            resource, name: "stormed", policy: policy, clock: clock, generator: { SplitMix64(seed: 3) },
            logger: Self.quiet)
        let task = Task { try? await supervisor.run() }
        await Self.settle { starts.load(ordering: .relaxed) }
        clock.advance(by: .milliseconds(10))
        // A netlink storm: a wake-up every millisecond.
        for _ in 0..<Int(duration / .milliseconds(1)) {
            supervisor.wake()
            clock.advance(by: .milliseconds(1))
            await Self.settle { starts.load(ordering: .relaxed) }
            if supervisor.state.stopReason != nil { break }
        }
        let stop = supervisor.state.stopReason
        task.cancel()
        await task.value
        return (starts.load(ordering: .relaxed), stop)
    }

    /// Gives up at the fourth failed start, or at the fourth restart within a minute.
    static func strictPolicy(wakeBurstWindow: Duration = RestartPolicy.standardWakeBurstWindow) throws -> RestartPolicy
    {
        try RestartPolicy(
            backoff: .constant(.seconds(10)),
            intensity: RestartIntensity(maxRestarts: 3, within: .seconds(60)),
            escalation: .giveUp,
            maxAttempts: 4,
            stopTimeout: nil,
            wakeBurstWindow: wakeBurstWindow
        )
    }

    @Test("a storm of 1,000 wake-ups in one second restarts a failing supervisor but does not make it give up")
    func stormDoesNotGiveUp() async throws {
        let stormed = try await Self.storm(Self.strictPolicy(), duration: .seconds(1))
        print("wake storm: 1,000 wake-ups in 1 s, \(stormed.starts) starts, ended \(String(describing: stormed.stop))")
        // The storm did restart it, far more often than its limits allow…
        #expect(stormed.starts > 5, "\(stormed.starts) starts")
        // …and counted once: no give-up.
        #expect(stormed.stop == nil, "\(String(describing: stormed.stop)) after \(stormed.starts) starts")
        // Counting every woken failure, the same storm gives up.
        let counted = try await Self.storm(Self.strictPolicy(wakeBurstWindow: .zero), duration: .seconds(1))
        #expect(counted.stop?.isGaveUp == true, "\(String(describing: counted.stop)) after \(counted.starts) starts")
    }
}
