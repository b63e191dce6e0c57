import Foundation
import Synchronization
import Testing

@testable import SRTAdapter

/// `SRTControlThread.idle()` says it returns once everything submitted before the call has run; `SRTServer.run()`
/// awaits it on the way out. It waits for an empty queue instead, which a busy process (every send and receive of
/// every connection is a work item) may never have.
@Suite("Attack: the control thread's idle")
struct ControlThreadIdleAttackTests {
    @Test("idle() returns once the earlier work ran, while other work keeps arriving")
    func idleUnderSteadyWork() async throws {
        // A thread of its own, so that the process's shared one is left alone.
        let control = SRTControlThread()
        let stop = Atomic(false)
        let finished = Atomic(false)
        let earlierRan = Atomic(false)
        control.submit { earlierRan.store(true, ordering: .releasing) }
        // Other work, steadily: items of 2 ms, at most 20 not started yet, topped up as they start, as busy
        // connections' reads and sends would come (bounded: 60 s).
        let itemsStarted = Atomic(0)
        Thread.detachNewThread {
            let deadline = ContinuousClock.now + .seconds(60)
            var submitted = 0
            while !stop.load(ordering: .relaxed), ContinuousClock.now < deadline {
                if submitted - itemsStarted.load(ordering: .relaxed) < 20 {
                    control.submit {
                        itemsStarted.add(1, ordering: .relaxed)
                        usleep(2000)
                    }
                    submitted += 1
                } else {
                    usleep(100)
                }
            }
            finished.store(true, ordering: .releasing)
        }
        defer { stop.store(true, ordering: .relaxed) }
        // Let the queue fill.
        #expect(await TestSupport.eventually(within: .seconds(2)) { control.completedCount > 10 })
        let ran = earlierRan.load(ordering: .acquiring)
        #expect(ran, "the work submitted first ran")
        let idleReturned = Atomic(false)
        let waiting = Task {
            await control.idle()
            idleReturned.store(true, ordering: .releasing)
        }
        // Everything submitted before the call runs within milliseconds. The waiting task and this one need the
        // cooperative pool, which the whole suite in parallel with a busy core has kept from them for over 10 s: 45 s
        // leaves room for that and still ends before the submitting thread's 60 s, until which a wait for an empty
        // queue could never return.
        let returned = await TestSupport.eventually(within: .seconds(45)) { idleReturned.load(ordering: .acquiring) }
        stop.store(true, ordering: .relaxed)
        let ended = await TestSupport.eventually(within: .seconds(62)) { finished.load(ordering: .acquiring) }
        #expect(ended, "the submitting thread ended")
        await waiting.value
        #expect(returned, "idle() had not returned after 45 s although the earlier work ran long before")
    }
}
