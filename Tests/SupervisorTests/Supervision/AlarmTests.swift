import Synchronization
import Testing

@testable import Supervisor

/// The alarm a supervisor parks on, as a plain value: which ringer ends which wait.
@Suite("Alarm")
struct AlarmTests {
    /// Arms `alarm` as given, parks a real continuation on it, applies `ringers` in order, and returns the index of
    /// the ringer that handed the continuation back (nil when none did; the wait is then ended by `.always`).
    static func firstRinger(
        wakeable: Bool,
        deadline: Int64 = Alarm.noDeadline,
        _ ringers: [Alarm.Ringer]
    ) async -> Int? {
        let alarm = Mutex(Alarm())
        let winner = Mutex<Int?>(nil)
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let parked = alarm.withLock { alarm in
                alarm.arm(wakeable: wakeable, deadline: deadline)
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
            alarm.withLock { $0.ring(.always) }?.resume()
        }
        return winner.withLock { $0 }
    }

    @Test("a deadline ends only the wait due at that instant; an earlier wait's deadline rings nothing")
    func deadlineMatchesItsWait() async {
        #expect(await Self.firstRinger(wakeable: true, deadline: 2_000, [.deadline(1_000), .deadline(2_000)]) == 1)
        #expect(await Self.firstRinger(wakeable: false, [.deadline(1_000), .deadline(Alarm.noDeadline)]) == nil)
    }

    @Test("wake() ends a backoff (wakeable) but never a running resource's wait")
    func wakeOnlyEndsWakeableWaits() async {
        #expect(await Self.firstRinger(wakeable: true, deadline: 5_000, [.wake]) == 0)
        #expect(await Self.firstRinger(wakeable: false, [.wake, .always]) == 1)
    }

    @Test("a ring between arm and park is not lost; after disarm, rings are ignored")
    func ringBeforeParkAndAfterDisarm() {
        var alarm = Alarm()
        alarm.arm(wakeable: true, deadline: 10)
        #expect(alarm.isPending(at: 10) && !alarm.isPending(at: 11))
        #expect(alarm.ring(.wake) == nil)  // nobody parked yet: nothing to resume, but the wait is over
        #expect(!alarm.isPending(at: 10))
        alarm.disarm()
        alarm.arm(wakeable: false)
        alarm.disarm()
        #expect(alarm.ring(.always) == nil && !alarm.isPending(at: Alarm.noDeadline))
    }

    @Test("a park after the ring returns at once")
    func parkAfterRing() async {
        let alarm = Mutex(Alarm())
        alarm.withLock {
            $0.arm(wakeable: true, deadline: 10)
            _ = $0.ring(.deadline(10))
        }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let parked = alarm.withLock { $0.park(continuation) }
            #expect(!parked)
            continuation.resume()
        }
    }
}
