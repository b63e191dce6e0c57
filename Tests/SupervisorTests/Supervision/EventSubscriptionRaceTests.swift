import Clocks
import Glibc
import Supervisor
import Testing

/// Subscribers that stop listening while the supervisor publishes.
///
/// Found by the SRT adapter's descriptor-exhaustion test, whose child process hung at its end: a subscriber's task
/// was cancelled (its stream's termination handler wanted the supervisor's lock) while the supervisor, holding that
/// lock, yielded an event to the same subscriber (resuming it needs the task's status lock, which the cancellation
/// held). Each thread waited for the other's lock, for good.
@Suite("Event subscriptions against a busy supervisor")
struct EventSubscriptionRaceTests {
    @Test("subscribers cancelled while events pour out: no deadlock, the supervisor keeps publishing")
    func cancelWhilePublishing() async {
        // In a child process: a deadlock here would hold two pool threads of the test process for good.
        await #expect(processExitsWith: .success) {
            // A thread outside Swift's pool ends a deadlocked child (the pool may be what is stuck).
            var watchdog = pthread_t()
            pthread_create(
                &watchdog, nil,
                { _ in
                    sleep(20)
                    _exit(3)
                }, nil)
            let supervisor = ResourceSupervisor(
                FailingResource(), name: "busy",
                policy: try RestartPolicy(backoff: .constant(.nanoseconds(1))), clock: ImmediateClock())
            let running = Task { try await supervisor.run() }
            let started = ContinuousClock.now
            var rounds = 0
            while ContinuousClock.now - started < .seconds(1) {
                let listeners = (0..<16).map { _ in
                    let events = supervisor.events()
                    return Task { for await _ in events {} }
                }
                for _ in 0..<rounds % 4 { await Task.yield() }
                for listener in listeners { listener.cancel() }
                rounds += 1
            }
            // Still publishing: a new subscriber hears from it.
            var events = supervisor.events().makeAsyncIterator()
            #expect(await events.next() != nil)
            running.cancel()
            _ = await running.result
            print("\(rounds) rounds of 16 subscribers")
        }
    }
}

/// Fails every start at once: with a 1 ns backoff on an immediate clock, the supervisor publishes as fast as it can.
private struct FailingResource: Restartable {
    func start() async throws -> Int { throw Transient() }
    func run(_ instance: Int) async throws {}
    func stop(_ instance: Int) async {}
}
