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
            var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        }

        private let state = Mutex(State())

        func wait(until instant: Int64) { state.withLock { $0.waitingUntil = instant } }
        var reached: [Int64] { state.withLock { $0.reached } }

        /// Returns once `count` deadlines have reached this alarm (the scheduler's sleeper is a task of its own).
        func reached(count: Int) async {
            await withCheckedContinuation { continuation in
                let done = state.withLock { state in
                    if state.reached.count >= count { return true }
                    state.watchers.append((count, continuation))
                    return false
                }
                if done { continuation.resume() }
            }
        }

        func deadlineReached(_ instant: Int64) {
            let due = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                guard state.waitingUntil == instant else { return [] }
                state.reached.append(instant)
                state.waitingUntil = nil
                let count = state.reached.count
                defer { state.watchers.removeAll { $0.count <= count } }
                return state.watchers.filter { $0.count <= count }.map(\.continuation)
            }
            for continuation in due { continuation.resume() }
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
        await early.reached(count: 1)  // the suite's time limit bounds the wait
        #expect(early.reached == [Self.seconds(10)] && late.reached.isEmpty)
        await clock.advance(by: .seconds(10))
        await late.reached(count: 1)
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
        await alarm.reached(count: 1)
        #expect(alarm.reached == [Self.seconds(3_600) + 9_999])
    }
}
