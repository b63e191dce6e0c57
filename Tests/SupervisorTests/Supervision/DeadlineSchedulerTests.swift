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

    /// Advances `clock` by `step`, then lets the sleeper run until `alarm` saw `count` deadlines (bounded).
    static func advance(_ clock: TestClock<Duration>, by step: Duration, until alarm: RecordingAlarm, saw count: Int)
        async
    {
        await clock.advance(by: step)
        for _ in 0..<1_000 where alarm.reached.count < count { await Task.yield() }
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
        await Self.advance(clock, by: .seconds(9), until: early, saw: 1)
        #expect(early.reached.isEmpty)
        await Self.advance(clock, by: .seconds(1), until: early, saw: 1)
        #expect(early.reached == [Self.seconds(10)] && late.reached.isEmpty)
        await Self.advance(clock, by: .seconds(10), until: late, saw: 1)
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
        await Self.advance(clock, by: .seconds(3_601), until: alarm, saw: 1)
        #expect(alarm.reached == [Self.seconds(3_600) + 9_999])
    }
}
