import CSRT
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    @Suite("Concurrent accepts on one listener")
    struct ConcurrentAcceptTests {
        /// Several tasks accept on one listener while as many callers connect. libsrt raises one edge-triggered
        /// event for the connections queued since the last report, and the reactor resumes only the accepts that
        /// wait at that moment: an accept that found nothing pending just before and waits just after misses it, and
        /// if the woken accept takes one of two queued connections, nothing wakes it for the other. Measured before
        /// the fix: an accept hung in rounds 25 to 46, 6 runs out of 6.
        @Test("concurrent accepts all return, round after round, while as many callers connect")
        func concurrentAccepts() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            let caller = try TestSupport.caller(to: listener, streamID: "accepts", connectTimeout: .seconds(10))
            let perRound = 16
            // Bounded in count and in time: on a loaded machine fewer rounds run, each still a full burst.
            let deadline = ContinuousClock.now + .seconds(8)
            var rounds = 0
            var failure: (any Error)?
            while rounds < 100, ContinuousClock.now < deadline, failure == nil {
                rounds += 1
                do {
                    let connections = try await TestSupport.within(.seconds(10)) {
                        try await withThrowingTaskGroup(of: SRTConnection.self) { group in
                            for _ in 0..<perRound {
                                group.addTask { try await listener.accept() }
                                group.addTask { try await SRTConnection.connect(caller) }
                            }
                            return try await group.reduce(into: [SRTConnection]()) { $0.append($1) }
                        }
                    }
                    for connection in connections { connection.close() }
                } catch {
                    failure = error
                }
            }
            #expect(failure == nil, "round \(rounds): \(String(describing: failure))")
            #expect(rounds >= 5, "only \(rounds) rounds ran")
        }

        /// What the server's accept loop relies on: one look takes every caller pending, at most the limit, and a
        /// look that emptied the queue makes the next call wait for a new caller rather than look again.
        @Test("one look takes every pending caller up to the limit; after the queue emptied the next call waits")
        func batchedAccepts() async throws {
            let listener = try SRTListenSocket.open(TestSupport.loopback())
            defer { listener.close() }
            let caller = try TestSupport.caller(to: listener, streamID: "batch", connectTimeout: .seconds(10))
            // Ten callers connected before any accept: all ten wait in libsrt's queue.
            let callers = try await withThrowingTaskGroup(of: SRTConnection.self) { group in
                for _ in 0..<10 { group.addTask { try await SRTConnection.connect(caller) } }
                return try await group.reduce(into: [SRTConnection]()) { $0.append($1) }
            }
            defer { for connection in callers { connection.close() } }
            var quietSince: UInt64?
            let first = try await listener.acceptPending(limit: 8, quietSince: &quietSince)
            #expect(first.count == 8)
            #expect(quietSince == nil, "the queue still held callers")
            let second = try await listener.acceptPending(limit: 8, quietSince: &quietSince)
            #expect(second.count == 2)
            #expect(quietSince != nil, "the look that took the last two found the queue empty")
            let accepted = first + second
            defer { for connection in accepted { connection.close() } }
            #expect(Set(accepted.map(\.socket)).count == 10, "every caller accepted once")
            // With nothing pending, the next call parks in the reactor until a caller comes, without looking first.
            let looks = listener.acceptLooks.load(ordering: .relaxed)
            let quiet = quietSince
            let third = Task {
                var since = quiet
                return try await listener.acceptPending(limit: 8, quietSince: &since)
            }
            #expect(await TestSupport.waitersArrived(on: listener.socket), "the third call did not wait")
            #expect(listener.acceptLooks.load(ordering: .relaxed) == looks, "it looked again before waiting")
            let late = try await SRTConnection.connect(caller)
            defer { late.close() }
            let taken = try await TestSupport.within(.seconds(10)) { try await third.value }
            defer { for connection in taken { connection.close() } }
            #expect(taken.count == 1)
        }
    }
}
