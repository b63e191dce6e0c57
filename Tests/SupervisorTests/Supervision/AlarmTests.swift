import Synchronization
import Testing

@testable import Supervisor

/// The alarm a supervisor parks on, as a plain value: which ringer ends which wait.
@Suite("Alarm")
struct AlarmTests {
    /// Arms `alarm` for `wait`, parks a real continuation on it, applies `ringers` in order, and returns the index of
    /// the ringer that handed the continuation back (nil when none did; the wait is then ended by the ringer that
    /// always ends it: a shutdown, or for a stop, its own end).
    static func firstRinger(
        _ wait: Alarm.Wait,
        deadline: Int64 = Alarm.noDeadline,
        _ ringers: [Alarm.Ringer]
    ) async -> Int? {
        let alarm = Mutex(Alarm())
        let winner = Mutex<Int?>(nil)
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let parked = alarm.withLock { alarm in
                alarm.arm(wait, deadline: deadline)
                return alarm.park(continuation)
            }
            #expect(parked)
            for (index, ringer) in ringers.enumerated() {
                if let resumed = alarm.withLock({ $0.ring(ringer) }) {
                    winner.withLock { $0 = index }
                    resumed.resume()
                    return
                }
            }
            let last: Alarm.Ringer = wait == .stopping ? .stopEnded(deadline) : .shutdown
            alarm.withLock { $0.ring(last) }?.resume()
        }
        return winner.withLock { $0 }
    }

    @Test("a deadline ends only the wait due at that instant; an earlier wait's deadline rings nothing")
    func deadlineMatchesItsWait() async {
        #expect(await Self.firstRinger(.backoff, deadline: 2_000, [.deadline(1_000), .deadline(2_000)]) == 1)
        #expect(await Self.firstRinger(.serving, [.deadline(1_000), .deadline(Alarm.noDeadline)]) == nil)
    }

    @Test("wake() ends a backoff but never a running resource's wait or a stop's")
    func wakeOnlyEndsBackoffs() async {
        #expect(await Self.firstRinger(.backoff, deadline: 5_000, [.wake]) == 0)
        #expect(await Self.firstRinger(.serving, [.wake, .runEnded]) == 1)
        #expect(await Self.firstRinger(.stopping, deadline: 5_000, [.wake, .deadline(5_000)]) == 1)
    }

    @Test("a stop's wait ends with its own stop or its timeout, never with a shutdown or an earlier stop")
    func stoppingWaits() async {
        // A shutdown during the stop is what the stop is doing already: it does not cut the wait short.
        #expect(await Self.firstRinger(.stopping, deadline: 9_000, [.shutdown, .runEnded, .stopEnded(9_000)]) == 2)
        // A stop that timed out earlier and finishes now belongs to another wait.
        #expect(await Self.firstRinger(.stopping, deadline: 9_000, [.stopEnded(4_000)]) == nil)
        // Its timeout: the deadline.
        var alarm = Alarm()
        alarm.arm(.stopping, deadline: 9_000)
        _ = alarm.ring(.deadline(9_000))
        #expect(alarm.rungByDeadline)
        alarm.arm(.stopping, deadline: 12_000)
        #expect(!alarm.rungByDeadline)
        _ = alarm.ring(.stopEnded(12_000))
        #expect(!alarm.rungByDeadline)
    }

    @Test("a late run-ended ring does not end a backoff")
    func runEndedOnlyEndsServing() async {
        #expect(await Self.firstRinger(.backoff, deadline: 3_000, [.runEnded, .deadline(3_000)]) == 1)
    }

    @Test("a ring between arm and park is not lost; after disarm, rings are ignored")
    func ringBeforeParkAndAfterDisarm() {
        var alarm = Alarm()
        alarm.arm(.backoff, deadline: 10)
        #expect(alarm.isPending(at: 10) && !alarm.isPending(at: 11))
        #expect(alarm.ring(.wake) == nil)  // nobody parked yet: nothing to resume, but the wait is over
        #expect(!alarm.isPending(at: 10))
        alarm.disarm()
        alarm.arm(.serving)
        alarm.disarm()
        #expect(alarm.ring(.shutdown) == nil && !alarm.isPending(at: Alarm.noDeadline))
    }

    @Test("a park after the ring returns at once")
    func parkAfterRing() async {
        let alarm = Mutex(Alarm())
        alarm.withLock {
            $0.arm(.backoff, deadline: 10)
            _ = $0.ring(.deadline(10))
        }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let parked = alarm.withLock { $0.park(continuation) }
            #expect(!parked)
            continuation.resume()
        }
    }
}
