import Clocks
import Synchronization
import Testing

@testable import Supervisor

/// The shared deadline heap behind every parked supervisor, on a test clock.
@Suite("DeadlineScheduler", .timeLimit(.minutes(1)))
struct DeadlineSchedulerTests {
    /// An alarm that waits for one deadline at a time and records the deadlines that reached it.
    final class RecordingAlarm: DeadlineAlarm {
        private struct State {
            var waitingUntil: Int64?
            var reached: [Int64] = []
        }

        private let state = Mutex(State())

        func wait(until instant: Int64) { state.withLock { $0.waitingUntil = instant } }
        var reached: [Int64] { state.withLock { $0.reached } }

        func deadlineReached(_ instant: Int64) {
            state.withLock { state in
                guard state.waitingUntil == instant else { return }
                state.reached.append(instant)
                state.waitingUntil = nil
            }
        }

        func isWaiting(until instant: Int64) -> Bool {
            state.withLock { $0.waitingUntil == instant }
        }
    }

    static func seconds(_ count: Int64) -> Int64 { count * 1_000_000_000 }

    /// Advances `clock` by `step` and gives the sleeper a chance to run: for checking that nothing rang (yet).
    static func advance(_ clock: TestClock<Duration>, by step: Duration) async {
        await clock.advance(by: step)
        for _ in 0..<100 { await Task.yield() }
    }

    /// `advance(_:by:)` on a recording clock.
    static func advance(_ clock: RecordingClock, by step: Duration) async {
        await clock.advance(by: step)
        for _ in 0..<100 { await Task.yield() }
    }

    /// Whether `condition` holds within ten seconds of real time, checked every 10 ms: for what another task does.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<1_000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// `eventually`, firing what is due on `clock` between checks: the sleeper is a task of its own, and on a loaded
    /// machine it may ask for its sleep only after the test advanced the clock to the deadline.
    static func eventually(nudging clock: TestClock<Duration>, _ condition: () -> Bool) async -> Bool {
        for _ in 0..<1_000 {
            if condition() { return true }
            await clock.advance(by: .zero)
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test("a deadline rings at its instant, not before; one sleeper serves deadlines in order")
    func ringsAtTheDeadline() async {
        let clock = TestClock()
        let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
        let early = RecordingAlarm()
        let late = RecordingAlarm()
        late.wait(until: Self.seconds(20))
        scheduler.schedule(late, at: Self.seconds(20), tolerance: nil)
        early.wait(until: Self.seconds(10))
        scheduler.schedule(early, at: Self.seconds(10), tolerance: nil)
        await Self.advance(clock, by: .seconds(9))
        #expect(early.reached.isEmpty)
        await clock.advance(by: .seconds(1))
        // Nudged: on a loaded machine the sleeper may ask for its sleep only after the clock reached the deadline.
        #expect(await Self.eventually(nudging: clock) { early.reached.count >= 1 })
        #expect(early.reached == [Self.seconds(10)] && late.reached.isEmpty)
        await clock.advance(by: .seconds(10))
        #expect(await Self.eventually(nudging: clock) { late.reached.count >= 1 })
        #expect(late.reached == [Self.seconds(20)])
        #expect(scheduler.pendingCount == 0)
    }

    @Test("waits that end early (wake-ups) do not grow the heap without bound")
    func staleEntriesAreDropped() async {
        let clock = TestClock()
        let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
        let alarm = RecordingAlarm()
        // 10,000 one-hour waits, each cut short by the next: every entry but the last is stale.
        for index in 0..<10_000 {
            let deadline = Self.seconds(3_600) + Int64(index)
            alarm.wait(until: deadline)
            scheduler.schedule(alarm, at: deadline, tolerance: .seconds(1))
        }
        #expect(scheduler.pendingCount <= 2_048, "heap kept \(scheduler.pendingCount) entries")
        await clock.advance(by: .seconds(3_601))
        #expect(await Self.eventually(nudging: clock) { alarm.reached.count >= 1 })
        #expect(alarm.reached == [Self.seconds(3_600) + 9_999])
    }

    @Test("every entry's tolerance holds: a later deadline with a tighter latest instant tightens the sleep")
    func tightestToleranceHolds() async {
        // A clock that wakes as late as each sleep's tolerance allows.
        let clock = RecordingClock(wakesLate: true)
        let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
        let loose = RecordingAlarm()
        loose.wait(until: Self.seconds(10))
        scheduler.schedule(loose, at: Self.seconds(10), tolerance: .seconds(5))
        let tight = RecordingAlarm()
        tight.wait(until: Self.seconds(12))
        scheduler.schedule(tight, at: Self.seconds(12), tolerance: nil)
        // The sleep serves both: until the earliest deadline, and awake by 12 s, the tight entry's latest instant.
        let served = await Self.eventually {
            clock.sleeps.last.map { $0.deadline == .seconds(10) && $0.tolerance == .seconds(2) } ?? false
        }
        #expect(served, "sleeps asked for: \(clock.sleeps.map { ($0.deadline, $0.tolerance) })")
        // A later entry whose latest instant is later too does not replace the sleeper.
        let later = RecordingAlarm()
        later.wait(until: Self.seconds(20))
        let sleepsBefore = clock.sleeps.count
        scheduler.schedule(later, at: Self.seconds(20), tolerance: .seconds(1))
        await Self.advance(clock, by: .zero)
        #expect(clock.sleeps.count == sleepsBefore)
        await clock.advance(by: .seconds(12))
        #expect(await Self.eventually { tight.reached == [Self.seconds(12)] }, "the tight deadline rang late")
        #expect(loose.reached == [Self.seconds(10)] && later.reached.isEmpty)
        await clock.advance(by: .seconds(9))
        #expect(await Self.eventually { later.reached == [Self.seconds(20)] })
    }

    @Test("a clock whose sleep fails rings the pending deadlines rather than strand them, then sleeps again")
    func failingClockRingsEverything() async {
        let clock = RecordingClock()
        let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
        clock.setFailing(true)
        let first = RecordingAlarm()
        let second = RecordingAlarm()
        first.wait(until: Self.seconds(10))
        scheduler.schedule(first, at: Self.seconds(10), tolerance: nil)
        second.wait(until: Self.seconds(20))
        scheduler.schedule(second, at: Self.seconds(20), tolerance: nil)
        let rung = await Self.eventually { first.reached.count == 1 && second.reached.count == 1 }
        #expect(rung, "rang \(first.reached) and \(second.reached) after \(clock.sleeps.count) failed sleeps")
        #expect(scheduler.pendingCount == 0)
        // Once the clock sleeps again, so does the scheduler: a new deadline rings at its instant, not before.
        clock.setFailing(false)
        let third = RecordingAlarm()
        third.wait(until: Self.seconds(30))
        scheduler.schedule(third, at: Self.seconds(30), tolerance: nil)
        await Self.advance(clock, by: .seconds(29))
        #expect(third.reached.isEmpty)
        await clock.advance(by: .seconds(1))
        #expect(await Self.eventually { third.reached == [Self.seconds(30)] })
    }

    @Test("the sleeper takes neither the priority nor the task-locals of the caller that started it")
    func sleeperIsDetached() async {
        let clock = RecordingClock()
        let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
        let alarm = RecordingAlarm()
        alarm.wait(until: Self.seconds(10))
        // The caller's priority is read when the sleeper starts, before awaiting `value` escalates the caller.
        await Task(priority: .low) {
            RecordingClock.$label.withValue("caller") {
                scheduler.schedule(alarm, at: Self.seconds(10), tolerance: nil)
            }
        }.value
        #expect(await Self.eventually { !clock.sleeps.isEmpty })
        let sleep = clock.sleeps.first
        #expect(sleep?.label == nil, "the sleeper saw the caller's task-local")
        #expect(sleep.map { $0.priority != .low } == true, "the sleeper ran at \(String(describing: sleep?.priority))")
    }

    @Test("an entry does not keep its alarm alive; live alarms still ring")
    func entriesDoNotOwnAlarms() async {
        let clock = TestClock()
        let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
        #expect(DeadlineScheduler<TestClock<Duration>>.entrySize == 32)
        weak var dropped: RecordingAlarm?
        do {
            let alarm = RecordingAlarm()
            dropped = alarm
            alarm.wait(until: Self.seconds(3_600))
            scheduler.schedule(alarm, at: Self.seconds(3_600), tolerance: nil)
        }
        // Freed with the last reference outside the scheduler, long before its deadline.
        #expect(dropped == nil, "the scheduler kept a dropped alarm alive until its deadline")
        let live = RecordingAlarm()
        live.wait(until: Self.seconds(10))
        scheduler.schedule(live, at: Self.seconds(10), tolerance: nil)
        await clock.advance(by: .seconds(10))
        #expect(await Self.eventually(nudging: clock) { live.reached == [Self.seconds(10)] })
        // The freed alarm's deadline passes without ringing anything.
        await clock.advance(by: .seconds(3_590))
        #expect(await Self.eventually(nudging: clock) { scheduler.pendingCount == 0 })
    }

    @Test("entries of freed alarms are dropped when the heap is rebuilt")
    func freedAlarmsAreDropped() {
        let clock = TestClock()
        let scheduler = DeadlineScheduler(clock: clock, origin: clock.now)
        // 10,000 one-hour waits of alarms freed at once, as stopped and dropped supervisors are.
        for index in 0..<10_000 {
            let deadline = Self.seconds(3_600) + Int64(index)
            let alarm = RecordingAlarm()
            alarm.wait(until: deadline)
            scheduler.schedule(alarm, at: deadline, tolerance: nil)
        }
        #expect(scheduler.pendingCount <= 2_048, "heap kept \(scheduler.pendingCount) entries")
    }
}
