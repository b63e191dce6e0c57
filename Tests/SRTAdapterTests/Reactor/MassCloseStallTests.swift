import CSRT
import Foundation
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Closing many connections at once stalls no task: the calls that wait on libsrt's global lock (the closes, and
    /// what its garbage collector makes wait a second later) run off Swift's cooperative pool.
    ///
    /// Runs in a child process (an exit test), so that no other suite's tasks share the pool it measures.
    @Suite("Mass close off the pool")
    struct MassCloseStallTests {
        @Test("500 connections closed at once: a 10 ms heartbeat on the pool is never 50 ms late")
        func heartbeatThroughMassClose() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await MassCloseScenario.run()
            }
            TestSupport.expectChild(result, marker: "STALL")
        }
    }
}

enum MassCloseScenario {
    static let count = 500
    static let period = Duration.milliseconds(10)
    static let allowed = Duration.milliseconds(50)

    static func run() async -> Never {
        await TestSupport.runChild(within: .seconds(60), scenario)
    }

    /// A task that wakes every `period` and records how late each wake-up came, where it comes.
    final class Heartbeat: Sendable {
        private let worst = Mutex<(lateness: Duration, beats: Int)>((.zero, 0))
        /// When the latest beat of the current period was due.
        let worstAt = Mutex<ContinuousClock.Instant>(.now)
        private let running = Atomic<Bool>(true)

        func start() -> Task<Void, Never> {
            Task {
                var next = ContinuousClock.now + MassCloseScenario.period
                while running.load(ordering: .relaxed) {
                    try? await Task.sleep(until: next, clock: .continuous)
                    let lateness = ContinuousClock.now - next
                    let due = next
                    worst.withLock {
                        if lateness > $0.lateness { worstAt.withLock { $0 = due } }
                        $0 = (max($0.lateness, lateness), $0.beats + 1)
                    }
                    next += MassCloseScenario.period
                    // After a stall, the next beat is due one period after this one, not in the past.
                    if next < ContinuousClock.now { next = ContinuousClock.now + MassCloseScenario.period }
                }
            }
        }

        func stop() { running.store(false, ordering: .relaxed) }

        /// The latest wake-up since the last reset, and how many beats there were.
        func reset() -> (lateness: Duration, beats: Int) {
            worst.withLock { state in
                defer { state = (.zero, 0) }
                return state
            }
        }
    }

    /// Asks libsrt for a socket's state (which takes its global lock) every 2 ms on a plain thread, and keeps the
    /// longest answer: how long the lock was held.
    final class LockWatch: Sendable {
        private let longest = Mutex<Duration>(.zero)
        private let running = Atomic<Bool>(true)

        init(_ socket: SRTSOCKET) {
            Thread.detachNewThread { [self] in
                while running.load(ordering: .relaxed) {
                    let before = ContinuousClock.now
                    _ = srt_getsockstate(socket)
                    let took = ContinuousClock.now - before
                    longest.withLock { $0 = max($0, took) }
                    usleep(2000)
                }
            }
        }

        func stop() -> Duration {
            running.store(false, ordering: .relaxed)
            return longest.withLock { $0 }
        }
    }

    /// libsrt 1.5.1 refuses one of many simultaneous connects from fresh multiplexers now and then with reject
    /// reason 0 (unknown); such a caller tries again, at most three times in all.
    static func connectRetrying(_ caller: SRTCallerConfiguration) async throws -> SRTConnection {
        for _ in 0..<2 {
            if let connection = try? await SRTConnection.connect(caller, reactor: .shared) { return connection }
        }
        return try await SRTConnection.connect(caller, reactor: .shared)
    }

    static func scenario() async throws {
        let listener = try SRTListenSocket.open(
            // Every caller comes from 127.0.0.1 and many handshakes wait for their accepts at once: no per-host share.
            try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, backlog: 1024, maxConnections: 2000, maxPendingPerAddress: 2000))
        let baseline = TestSupport.descriptorCount
        // Each caller has a UDP socket and a libsrt multiplexer of its own, as local callers do; after their close,
        // libsrt's collector frees the 500 multiplexers while it holds its global lock, joining their threads.
        let caller = try SRTCallerConfiguration(
            host: "127.0.0.1", port: listener.localAddress.port, streamID: "stall", connectTimeout: .seconds(5))

        let started = ContinuousClock.now
        // One task accepts everything, so that a caller that libsrt refused after the listener took it leaves no
        // accept waiting.
        let acceptedSoFar = Mutex<[SRTConnection]>([])
        let accepting = Task {
            while let connection = try? await listener.accept() { acceptedSoFar.withLock { $0.append(connection) } }
        }
        var callers: [SRTConnection] = []
        while callers.count < count {
            let batch = min(50, count - callers.count)
            callers += try await withThrowingTaskGroup(of: SRTConnection.self) { group in
                for _ in 0..<batch { group.addTask { try await connectRetrying(caller) } }
                var result: [SRTConnection] = []
                for try await connection in group { result.append(connection) }
                return result
            }
        }
        _ = await TestSupport.eventually(within: .seconds(5)) { acceptedSoFar.withLock { $0.count } >= count }
        accepting.cancel()
        _ = await accepting.result
        // The listener's side of a refused caller is a socket that broke at once: not part of the measurement.
        let accepted = acceptedSoFar.withLock { $0 }
        for connection in accepted where connection.state != .connected { connection.close() }
        let connections = callers + accepted.filter { $0.state == .connected }
        let connected = ContinuousClock.now - started
        // A stream that stays, read by a task of its own; its gaps show what the lock does to data (not to the pool).
        let (bystander, bystanderAccepted) = try await TestSupport.pair(listener, streamID: "bystander")
        let lastArrival = Mutex<(ContinuousClock.Instant, Duration, Int)>((.now, .zero, 0))
        let bystanderReader = Task {
            for try await _ in bystanderAccepted.messages {
                let now = ContinuousClock.now
                lastArrival.withLock { $0 = (now, max($0.1, now - $0.0), $0.2 + 1) }
            }
        }
        let bystanderSender = Task {
            while !Task.isCancelled {
                try await bystander.send([0x47])
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        // Every connection has a task reading it, as a server's would, and the listener an accept waiting.
        let readers = connections.map { connection in
            Task { for try await _ in connection.messages {} }
        }
        let pendingAccept = Task { try await listener.accept() }
        let readersWaiting = await TestSupport.eventually(within: .seconds(10)) {
            SRTReactor.shared.waiterCount >= connections.count
        }
        guard readersWaiting else {
            print("FAIL: only \(SRTReactor.shared.waiterCount) of \(connections.count) receives pending")
            TestSupport.exitChild(3)
        }

        let watch = LockWatch(listener.socket)
        let heartbeat = Heartbeat()
        let beating = heartbeat.start()
        try await Task.sleep(for: .milliseconds(500))
        let quiet = heartbeat.reset()
        lastArrival.withLock { $0.1 = .zero }

        // Each connection closed by a task of its own, all at once.
        let closeStarted = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for connection in connections { group.addTask { connection.close() } }
        }
        let closeCalls = ContinuousClock.now - closeStarted
        for reader in readers { _ = await reader.result }
        // The collector frees the callers' multiplexers a second or more after their close, under its lock; their UDP
        // sockets are closed last of all. Read from /proc, which takes no libsrt lock.
        // Every 100 ms: listing 1,500 descriptors is work on the pool that the heartbeat would share.
        let deadline = ContinuousClock.now + .seconds(15)
        while TestSupport.descriptorCount > baseline + 10, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let freed = TestSupport.descriptorCount <= baseline + 10
        try await Task.sleep(for: .milliseconds(200))
        let worstAt = heartbeat.worstAt.withLock { $0 } - closeStarted
        let closing = heartbeat.reset()
        let tookAll = ContinuousClock.now - closeStarted
        let lockHeld = watch.stop()
        heartbeat.stop()
        await beating.value
        bystanderSender.cancel()
        let (_, bystanderGap, bystanderMessages) = lastArrival.withLock { $0 }
        bystander.close()
        bystanderAccepted.close()
        _ = await bystanderReader.result
        pendingAccept.cancel()
        listener.close()

        print(
            "STALL \(count) pairs connected in \(connected); heartbeat every \(period): quiet worst \(quiet.lateness) "
                + "late over \(quiet.beats) beats; closing \(connections.count) sockets (close calls returned in \(closeCalls)) "
                + "until the collector freed them (\(tookAll)): worst \(closing.lateness) late over \(closing.beats) beats "
                + "(due \(worstAt) after the first close); "
                + "libsrt's global lock held up to \(lockHeld); the bystander stream's longest gap \(bystanderGap) "
                + "(\(bystanderMessages) messages)")
        guard freed else {
            print(
                "FAIL: the callers' UDP sockets were not freed: \(TestSupport.descriptorCount) fds, \(baseline) at first"
            )
            TestSupport.exitChild(5)
        }
        guard closing.lateness < allowed else {
            print("FAIL: a heartbeat came \(closing.lateness) late (allowed \(allowed))")
            TestSupport.exitChild(4)
        }
        print("STALL OK")
    }
}
