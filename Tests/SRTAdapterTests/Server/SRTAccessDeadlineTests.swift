import Foundation
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// A slow or stuck access control never stalls libsrt's receive thread for longer than its deadline: the caller
    /// is rejected as unavailable, a live stream on the same port keeps flowing, the listener is never taken for
    /// dead, and closing it leaves no thread behind.
    @Suite("SRTServer: access control with a deadline")
    struct SRTAccessDeadlineTests {
        static let deadline = Duration.milliseconds(50)
        /// Room for the loaded 2-core machine (a whole test process was seen stalled for 376 ms); the figures
        /// printed are what to look at. Without the deadline the stall is the closure's 5 s.
        static let slack = Duration.milliseconds(300)
        /// The live stream's gaps and a caller's wait for its answer are timed by the test's own tasks, which a
        /// loaded machine stalls too (1.56 s and 412 ms seen in full runs, while the receive thread's longest wait
        /// stayed in bounds): a bound well below what a held receive thread would show (the stuck closure's 5 s, the
        /// slow one's 50 × 80 ms).
        static let streamSlack = Duration.seconds(2)

        /// "live" and "publish/…" are let in at once, "play/…" rejected with 1404 at once; anything else waits for
        /// `gate` (at most `blocking`) and is then let in.
        static func access(_ gate: Gate, blocking: Duration = .seconds(5)) throws -> SRTAccessControl {
            try SRTAccessControl(deadline: deadline) { request in
                if request.streamID == "live" || request.streamID.hasPrefix("publish/") { return .accept }
                if request.streamID.hasPrefix("play/") { return .reject(.notFound) }
                gate.pass(within: blocking)
                return .accept
            }
        }

        /// Latency 0 on both ends: a message is delivered as soon as it arrives, so a held receive thread shows
        /// in full as a gap (any latency would hide up to that much of it).
        static func configuration(_ access: SRTAccessControl) throws -> SRTListenerConfiguration {
            try SRTListenerConfiguration(host: "127.0.0.1", port: 0, latency: .zero, accessControl: access)
        }

        static func caller(_ address: SRTAddress, _ streamID: String) throws -> SRTCallerConfiguration {
            try SRTCallerConfiguration(
                host: address.host, port: address.port, streamID: streamID, latency: .zero,
                connectTimeout: .seconds(2))
        }

        /// Connects with `streamID`; the reject reason (or `nil` when it got in) and how long the answer took.
        static func attempt(_ address: SRTAddress, _ streamID: String) async throws -> (
            reason: Int32?, took: Duration, connection: SRTConnection?
        ) {
            let started = ContinuousClock.now
            do {
                let connection = try await SRTConnection.connect(caller(address, streamID))
                return (nil, ContinuousClock.now - started, connection)
            } catch let error as SRTError where error.code == .connectionRejected {
                return (error.rejectReason ?? 0, ContinuousClock.now - started, nil)
            }
        }

        /// libsrt receive threads of this process, one per multiplexer (UDP socket) still alive.
        static var libsrtReceiveThreads: Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.count { task in
                (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?.hasPrefix("SRT:RcvQ")
                    == true
            }
        }

        /// Runs `body`, then waits (at most 10 s) until libsrt's garbage collector has torn down the multiplexers of
        /// the callers and listeners it made. The collector does so a second or two after they close, holding libsrt's
        /// global lock while it joins their threads: every handshake in the process waits meanwhile, and the next
        /// suite's self-probe (500 ms) was seen to time out in it. So a test that makes many sockets cleans up within
        /// its own time.
        static func cleaningUp(_ label: String, _ body: () async throws -> Void) async throws {
            let baseline = libsrtReceiveThreads
            let started = ContinuousClock.now
            do {
                try await body()
            } catch {
                _ = await TestSupport.eventually(within: .seconds(10)) { libsrtReceiveThreads <= baseline }
                throw error
            }
            let ended = ContinuousClock.now
            let collected = await TestSupport.eventually(within: .seconds(10)) { libsrtReceiveThreads <= baseline }
            print(
                "\(label): libsrt had collected its sockets \(ContinuousClock.now - ended) after it ended (\(collected ? "all" : "not all") of them; it ran \(ended - started))"
            )
        }

        @Test(
            "a closure stuck for 5 s: the caller gets 1503 within the deadline, a live stream on the port keeps flowing, no restart, normal decisions once it returns"
        )
        func stuckClosure() async throws {
            let gate = Gate()
            defer { gate.open() }
            let access = try Self.access(gate)
            try await SRTServerSecurityTests.withServer(Self.configuration(access)) { server, address, connections in
                let listener = try #require(server.supervisor.resource.current)
                let live = try await LiveStream.start(
                    caller: SRTConnection.connect(Self.caller(address, "live")), accepting: &connections)
                try await Task.sleep(for: .milliseconds(100))

                let stuck = try await Self.attempt(address, "slow")
                #expect(stuck.reason == SRTRejectReason.unavailable.code)
                #expect(stuck.took < Self.deadline + Self.streamSlack)
                #expect(gate.entered.load(ordering: .relaxed) == 1)
                // While it stays stuck: refused at once, without asking the closure, and the probe is answered.
                var refusals: [Duration] = []
                for index in 0..<5 {
                    let refused = try await Self.attempt(address, "publish/while-stuck-\(index)")
                    #expect(refused.reason == SRTRejectReason.unavailable.code)
                    refusals.append(refused.took)
                }
                let probe = await listener.probe()
                #expect(probe.isAlive, "\(probe)")
                try await Task.sleep(for: .milliseconds(200))

                gate.open()
                // Like a real caller: the stuck decision needs a moment to return after the gate opens.
                var after = try await Self.attempt(address, "publish/after")
                let retryUntil = ContinuousClock.now + .seconds(1)
                while after.reason == SRTRejectReason.unavailable.code, ContinuousClock.now < retryUntil {
                    try await Task.sleep(for: .milliseconds(10))
                    after = try await Self.attempt(address, "publish/after")
                }
                let caller = try #require(after.connection, "rejected with \(String(describing: after.reason))")
                defer { caller.close() }
                let accepted = try #require(await connections.next())
                defer { accepted.close() }
                #expect(accepted.streamID == "publish/after")
                #expect(try await Self.attempt(address, "play/other").reason == SRTRejectReason.notFound.code)

                let report = try await live.stop()
                let longestWait = try #require(listener.accessWorker).longestWait
                print(
                    "stuck closure: rejected (1503) after \(stuck.took); refusals while stuck \(refusals.max()!) at most; receive thread's longest wait \(longestWait); \(report); \(access.statistics)"
                )
                #expect(report.lost.isEmpty, "\(report)")
                #expect(report.largestGap < Self.deadline + Self.streamSlack, "\(report)")
                #expect(longestWait < Self.deadline + Self.slack)
                #expect(access.statistics.timedOut == 1)
                #expect(access.statistics.refusedWhileOverdue >= 5)
                // Not taken for dead: the same listener still runs (withServer checks there was no failure).
                #expect(server.supervisor.resource.current === listener)
            }
        }

        @Test(
            "50 handshakes in waves of 5 while the closure is stuck (5 s) or slow (80 ms each): none holds the receive thread longer than the deadline",
            arguments: [Duration.seconds(5), .milliseconds(80)])
        func concurrentHandshakes(blocking: Duration) async throws {
            try await Self.cleaningUp("50 handshakes, closure \(blocking)") {
                let gate = Gate()
                defer { gate.open() }
                let access = try Self.access(gate, blocking: blocking)
                try await SRTServerSecurityTests.withServer(Self.configuration(access)) {
                    server, address, connections in
                    let listener = try #require(server.supervisor.resource.current)
                    let live = try await LiveStream.start(
                        caller: SRTConnection.connect(Self.caller(address, "live")), accepting: &connections)
                    try await Task.sleep(for: .milliseconds(100))

                    let started = ContinuousClock.now
                    let outcomes = try await withThrowingTaskGroup(of: (Int32?, Duration).self) { group in
                        for index in 0..<50 {
                            group.addTask {
                                // Waves of 5 at once, 40 ms apart: a slow closure frees its thread between waves and
                                // is timed out again and again; a stuck one never does.
                                try await Task.sleep(
                                    until: started + .milliseconds(40) * (index / 5), clock: .continuous)
                                let outcome = try await Self.attempt(address, "flood/\(index)")
                                outcome.connection?.close()
                                return (outcome.reason, outcome.took)
                            }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    let floodTook = ContinuousClock.now - started
                    try await Task.sleep(for: .milliseconds(100))
                    gate.open()

                    let report = try await live.stop()
                    let longestWait = try #require(listener.accessWorker).longestWait
                    let reasons = Dictionary(grouping: outcomes, by: { $0.0.map { "\($0)" } ?? "connected" })
                        .mapValues(\.count)
                    print(
                        "50 handshakes in waves, closure \(blocking): all answered in \(floodTook), reasons \(reasons); receive thread's longest wait \(longestWait); \(report); \(access.statistics)"
                    )
                    // None may pass: no decision came in time. libsrt itself turns the odd handshake away under
                    // churn (reason 0), so most, not all, carry 1503.
                    #expect(outcomes.allSatisfy { $0.0 != nil })
                    #expect(outcomes.filter { $0.0 == SRTRejectReason.unavailable.code }.count >= 45)
                    #expect(longestWait < Self.deadline + Self.slack)
                    #expect(report.lost.isEmpty, "\(report)")
                    #expect(report.largestGap < Self.deadline + Self.streamSlack, "\(report)")
                    #expect(server.supervisor.resource.current === listener)
                }
            }
        }

        @Test(
            "a quick closure: callers are answered as fast as without an access control; the connection cap stays exact"
        )
        func quickClosure() async throws {
            try await Self.cleaningUp("quick closure") {
                // The longest deadline: these decisions are about their answers, and a starved test process once kept a
                // quick closure's thread off the CPU for more than 50 ms.
                let access = try SRTAccessControl(deadline: .seconds(1)) {
                    $0.streamID.hasPrefix("publish/") ? .accept : .reject(.forbidden)
                }
                let guarded = try SRTListenSocket.open(Self.configuration(access))
                defer { guarded.close() }
                let open = try SRTListenSocket.open(
                    SRTListenerConfiguration(host: "127.0.0.1", port: 0, latency: .zero))
                defer { open.close() }

                var withAccess: [Duration] = []
                var without: [Duration] = []
                for index in 0..<10 {
                    for (listener, sink) in [(guarded, 0), (open, 1)] {
                        let started = ContinuousClock.now
                        let caller = try await SRTConnection.connect(
                            Self.caller(listener.localAddress, "publish/\(index)"))
                        let took = ContinuousClock.now - started
                        if sink == 0 { withAccess.append(took) } else { without.append(took) }
                        // Accepted before the caller closes: a caller gone before accept leaves nothing to accept.
                        try await TestSupport.within(.seconds(3)) { try await listener.accept() }.close()
                        caller.close()
                    }
                }
                withAccess.sort()
                without.sort()
                print(
                    "caller connected, median of 10: \(withAccess[5]) through a quick access control, \(without[5]) without one"
                )
                #expect(withAccess[5] < without[5] + .milliseconds(20))
                #expect(try await Self.attempt(guarded.localAddress, "play/x").reason == SRTRejectReason.forbidden.code)

                // A cap of 1: the first caller the closure admits is in, the next one is turned away as overload.
                let capped = try SRTListenSocket.open(
                    SRTListenerConfiguration(
                        host: "127.0.0.1", port: 0, latency: .zero, maxConnections: 1, accessControl: access))
                defer { capped.close() }
                let (caller, accepted) = try await TestSupport.pair(capped, streamID: "publish/first")
                defer {
                    caller.close()
                    accepted.close()
                }
                #expect(
                    try await Self.attempt(capped.localAddress, "publish/second").reason
                        == SRTRejectReason.overload.code)
                #expect(access.statistics.timedOut == 0)
                // 10 admitted, "play/x" and "publish/first"; the cap turned "publish/second" away before asking.
                #expect(access.statistics.answeredInTime == 12)
            }
        }

        @Test(
            "closing the listener while the closure is stuck returns promptly; its thread ends once the closure returns"
        )
        func closeWhileStuck() async throws {
            let gate = Gate()
            defer { gate.open() }
            let listener = try SRTListenSocket.open(Self.configuration(Self.access(gate)))
            defer { listener.close() }
            let worker = try #require(listener.accessWorker)
            #expect(await TestSupport.eventually { worker.workerThreadID > 0 })
            let thread = worker.workerThreadID

            let stuck = try await Self.attempt(listener.localAddress, "slow")
            #expect(stuck.reason == SRTRejectReason.unavailable.code)
            let started = ContinuousClock.now
            listener.close()
            let closeTook = ContinuousClock.now - started
            print("close with the access control stuck took \(closeTook)")
            #expect(closeTook < TestSupport.promptly)
            #expect(AccessControlWorkerTests.threadName(thread) == "srt-access")

            gate.open()
            #expect(await TestSupport.eventually { AccessControlWorkerTests.threadName(thread) == nil })
        }

        @Test("5 listeners with an access control, opened and closed: no thread left behind")
        func noThreadLeftBehind() async throws {
            var threads: [Int32] = []
            for index in 0..<5 {
                // 1 s: a starved test process once kept this quick closure's thread off the CPU for more than 50 ms.
                let access = try SRTAccessControl(deadline: .seconds(1)) {
                    $0.streamID == "in" ? .accept : .reject(.forbidden)
                }
                let listener = try SRTListenSocket.open(Self.configuration(access))
                let worker = try #require(listener.accessWorker)
                #expect(await TestSupport.eventually { worker.workerThreadID > 0 })
                threads.append(worker.workerThreadID)
                // Few sockets, and a decision on every other listener only: libsrt's collector tears closed listeners
                // down 3 s later, after this test, holding its global lock for each (see ``cleaningUp(_:_:)``).
                if index.isMultiple(of: 2) {
                    #expect(try await Self.attempt(listener.localAddress, "out").reason == 1403)
                }
                listener.close()
            }
            let started = threads
            #expect(
                await TestSupport.eventually {
                    started.allSatisfy { AccessControlWorkerTests.threadName($0) == nil }
                })
        }
    }
}

/// A numbered message every `interval` from a caller to its accepted end, with each arrival's instant: what a
/// live stream on the listener's port sees while the listener decides other callers.
final class LiveStream: Sendable {
    struct Report: CustomStringConvertible {
        let sent: Int
        let lost: [Int]
        /// The longest time between two arrivals.
        let largestGap: Duration
        /// The longest time from a send to its arrival.
        let largestDelay: Duration

        var description: String {
            "live stream: \(sent) sent, \(lost.count) lost, largest gap \(largestGap), largest delay \(largestDelay)"
        }
    }

    let caller: SRTConnection
    let accepted: SRTConnection
    private let origin = ContinuousClock.now
    private let arrivals = Mutex<[(sequence: Int, sent: Duration, at: ContinuousClock.Instant)]>([])
    private let stopping = Atomic<Bool>(false)
    private let sender = Mutex<Task<Int, any Error>?>(nil)
    private let receiver = Mutex<Task<Void, Never>?>(nil)

    private init(caller: SRTConnection, accepted: SRTConnection) {
        self.caller = caller
        self.accepted = accepted
    }

    /// Starts sending on `caller` once its accepted end came out of `connections`.
    static func start(
        caller: SRTConnection, accepting connections: inout AsyncStream<SRTConnection>.Iterator,
        interval: Duration = .milliseconds(5)
    ) async throws -> LiveStream {
        let accepted = try #require(await connections.next())
        let stream = LiveStream(caller: caller, accepted: accepted)
        stream.receiver.withLock { $0 = Task { await stream.receive() } }
        stream.sender.withLock { $0 = Task { try await stream.send(every: interval) } }
        return stream
    }

    /// Stops sending, waits (at most 2 s) for what was sent, closes both ends, and reports.
    func stop() async throws -> Report {
        stopping.store(true, ordering: .releasing)
        let sent = try await sender.withLock { $0 }!.value
        _ = await TestSupport.eventually { self.arrivals.withLock { $0.count } >= sent }
        caller.close()
        accepted.close()
        receiver.withLock { $0 }?.cancel()
        let arrivals = self.arrivals.withLock { $0 }
        let received = Set(arrivals.map(\.sequence))
        let gaps = zip(arrivals.dropFirst(), arrivals).map { $0.at - $1.at }
        let delays = arrivals.map { $0.at - (origin + $0.sent) }
        return Report(
            sent: sent, lost: (0..<sent).filter { !received.contains($0) }, largestGap: gaps.max() ?? .zero,
            largestDelay: delays.max() ?? .zero)
    }

    private func send(every interval: Duration) async throws -> Int {
        var sequence = 0
        // Bounded: 30 s of stream at most, whatever the test does.
        while !stopping.load(ordering: .acquiring), sequence < 6_000 {
            try await Task.sleep(until: origin + interval * sequence, clock: .continuous)
            let sent = ContinuousClock.now - origin
            var message = withUnsafeBytes(of: UInt64(sequence).littleEndian, Array.init)
            message += withUnsafeBytes(of: Int64(sent.components.seconds).littleEndian, Array.init)
            message += withUnsafeBytes(of: Int64(sent.components.attoseconds).littleEndian, Array.init)
            try await caller.send(message)
            sequence += 1
        }
        return sequence
    }

    private func receive() async {
        while let message = try? await accepted.receive(), message.count == 24 {
            let at = ContinuousClock.now
            let fields = (0..<3).map { index in
                message[(index * 8)..<(index * 8 + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
            let sent = Duration(
                secondsComponent: Int64(bitPattern: fields[1]), attosecondsComponent: Int64(bitPattern: fields[2]))
            arrivals.withLock { $0.append((Int(fields[0]), sent, at)) }
        }
    }
}
