import Logging
import Supervisor
import Synchronization
import Testing

/// A wake-up that arrives while `start()` runs is not lost: the start may have begun before the network change the
/// wake-up reports, so when it fails, the backoff after it ends at once (within the wake-up's spread) rather than
/// after its full delay. Under virtual time (a `ManualClock`): an hour-long backoff never passes by itself here.
@Suite("A wake-up during a start")
struct WakeDuringStartTests {
    /// A resource whose first start waits for the test's word and then fails; later starts count and succeed.
    final class HeldStart: Sendable {
        let starts = Atomic(0)
        private let held = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let entered = Atomic(false)

        var resource: RestartableResource<Int> {
            RestartableResource<Int>(
                start: { [self] in
                    if starts.add(1, ordering: .relaxed).newValue == 1 {
                        await withCheckedContinuation { continuation in
                            held.withLock { $0 = continuation }
                            entered.store(true, ordering: .releasing)
                        }
                        throw Transient()
                    }
                    return 1
                },
                run: { _ in try await Task.sleep(for: .seconds(3_600)) })
        }

        /// Lets the held first start go on (to fail).
        func release() {
            held.withLock { held in
                held?.resume()
                held = nil
            }
        }
    }

    @Test(
        "woken during its failing start, the supervisor starts again without waiting out the backoff",
        arguments: [true, false])
    func wakeDuringStartEndsTheNextBackoff(woken: Bool) async throws {
        let clock = ManualClock()
        let held = HeldStart()
        let supervisor = ResourceSupervisor(
            held.resource, name: "held",
            policy: try RestartPolicy(backoff: .constant(.seconds(3_600)), stopTimeout: nil),
            clock: clock, generator: { SplitMix64(seed: 1) }, logger: WakeSpreadTests.quiet)
        let task = Task { try await supervisor.run() }
        // Waited for in real time: released before it began, the start would hold the supervisor for good.
        let entered = await WakeWhileFailingTests.waitUntil { held.entered.load(ordering: .acquiring) }
        try #require(entered, "the first start is in progress")
        // Past the minimum restart delay, so that only the backoff and the wake-up decide.
        clock.advance(by: .seconds(1))
        if woken { supervisor.wake(spread: .zero) }
        held.release()
        var waited: (virtual: Duration, real: Duration) = (.zero, .zero)
        if woken {
            waited = await WakeWhileFailingTests.waitFor(starts: 2, clock: clock) {
                held.starts.load(ordering: .relaxed)
            }
        } else {
            await WakeSpreadTests.settle { held.starts.load(ordering: .relaxed) }
            // A few virtual milliseconds: nowhere near the hour.
            for _ in 0..<10 {
                clock.advance(by: .milliseconds(10))
                await WakeSpreadTests.settle { held.starts.load(ordering: .relaxed) }
            }
        }
        let starts = held.starts.load(ordering: .relaxed)
        let ready = supervisor.state.isReady
        if woken {
            #expect(
                starts == 2,
                "the wake-up during the start ended the backoff after it (waited \(waited.virtual) virtual, \(waited.real) real)"
            )
            #expect(ready)
        } else {
            #expect(starts == 1, "without a wake-up the hour-long backoff is still running")
        }
        task.cancel()
        _ = try? await task.value
    }

    @Test("a wake-up during a start that succeeds is forgotten: a later failure's backoff runs in full")
    func wakeDuringSuccessfulStartIsForgotten() async throws {
        let clock = ManualClock()
        let starts = Atomic(0)
        let entered = Atomic(false)
        let held = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let resource = RestartableResource<Int>(
            start: {
                if starts.add(1, ordering: .relaxed).newValue == 1 {
                    await withCheckedContinuation { continuation in
                        held.withLock { $0 = continuation }
                        entered.store(true, ordering: .releasing)
                    }
                }
                return 1
            },
            // The first run fails at once; later ones serve.
            run: { _ in
                if starts.load(ordering: .relaxed) == 1 { throw Transient() }
                try await Task.sleep(for: .seconds(3_600))
            })
        let supervisor = ResourceSupervisor(
            resource, name: "forgets",
            policy: try RestartPolicy(backoff: .constant(.seconds(3_600)), stopTimeout: nil),
            clock: clock, generator: { SplitMix64(seed: 2) }, logger: WakeSpreadTests.quiet)
        let task = Task { try await supervisor.run() }
        // Waited for in real time: resumed before it began, the start would hold the supervisor for good.
        let began = await WakeWhileFailingTests.waitUntil { entered.load(ordering: .acquiring) }
        try #require(began, "the first start is in progress")
        clock.advance(by: .seconds(1))
        supervisor.wake(spread: .zero)
        held.withLock { held in
            held?.resume()
            held = nil
        }
        await WakeSpreadTests.settle { starts.load(ordering: .relaxed) }
        for _ in 0..<10 {
            clock.advance(by: .milliseconds(10))
            await WakeSpreadTests.settle { starts.load(ordering: .relaxed) }
        }
        let count = starts.load(ordering: .relaxed)
        #expect(count == 1, "the run after the start failed; its backoff is not cut short")
        task.cancel()
        _ = try? await task.value
    }
}
