import Foundation
import Logging
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

/// The thread that runs an access control, alone (no libsrt): what the receive thread gets, how long it waits, and
/// that no thread is left behind.
@Suite("Access control worker")
struct AccessControlWorkerTests {
    static let request = SRTAccessRequest(streamID: "publish/cam1", peerAddress: nil, handshakeVersion: 5)

    @Test("the deadline is validated: 1 ms to 1 s, 50 ms unless given")
    func deadlineValidation() throws {
        #expect(SRTAccessControl { _ in .accept }.deadline == .milliseconds(50))
        for valid in [Duration.milliseconds(1), .milliseconds(200), .seconds(1)] {
            #expect(try SRTAccessControl(deadline: valid) { _ in .accept }.deadline == valid)
        }
        for invalid in [Duration.zero, .microseconds(999), .seconds(-1), .milliseconds(1_001), .seconds(3_600)] {
            let error = #expect(throws: ConfigurationError.self) {
                _ = try SRTAccessControl(deadline: invalid) { _ in .accept }
            }
            #expect(error?.code == .outOfRange)
            #expect(error?.option == "deadline")
        }
    }

    @Test("a quick closure answers through the thread with its own decision, in microseconds")
    func fastPath() throws {
        // 1 s, not the default 50 ms: this is about the answers and the hand-over's cost, and one decision in 2,000
        // once timed out at 50 ms because the test process got no CPU (the other suites run beside this one).
        let access = try SRTAccessControl(deadline: .seconds(1)) {
            $0.streamID.hasPrefix("publish/") ? .accept : .reject(.notFound)
        }
        let worker = try AccessControlWorker.start(access, logger: Logger(label: "test"))
        defer { worker.close() }
        var waits: [Duration] = []
        for index in 0..<2_000 {
            let streamID = index.isMultiple(of: 2) ? "publish/\(index)" : "play/\(index)"
            let started = ContinuousClock.now
            let outcome = worker.decide(SRTAccessRequest(streamID: streamID, peerAddress: nil, handshakeVersion: 5))
            waits.append(ContinuousClock.now - started)
            #expect(outcome == .decided(index.isMultiple(of: 2) ? .accept : .reject(.notFound)))
        }
        waits.sort()
        print("access-control hand-over, 2,000 decisions: p50 \(waits[1_000]), p99 \(waits[1_980]), max \(waits.last!)")
        // Tens of microseconds on an idle machine; the bound leaves room for a loaded one.
        #expect(waits[1_000] < .milliseconds(2))
        #expect(access.statistics.answeredInTime == 2_000)
        #expect(access.statistics.timedOut == 0)
    }

    @Test(
        "a stuck closure: timed out within the deadline, later requests refused at once, normal again once it returns")
    func stuckClosure() throws {
        let gate = Gate()
        let access = try SRTAccessControl(deadline: .milliseconds(50)) { request in
            if request.streamID == "slow" { gate.pass(within: .seconds(5)) }
            return .reject(.forbidden)
        }
        let worker = try AccessControlWorker.start(access, logger: Logger(label: "test"))
        defer { worker.close() }

        let started = ContinuousClock.now
        #expect(worker.decide(SRTAccessRequest(streamID: "slow", peerAddress: nil, handshakeVersion: 5)) == .timedOut)
        let timedOutAfter = ContinuousClock.now - started
        var refusals: [Duration] = []
        for _ in 0..<20 {
            let refused = ContinuousClock.now
            #expect(worker.decide(Self.request) == .busy)
            refusals.append(ContinuousClock.now - refused)
        }
        print("stuck closure: timed out after \(timedOutAfter), refusals while stuck took at most \(refusals.max()!)")
        #expect(timedOutAfter >= .milliseconds(50))
        #expect(timedOutAfter < .milliseconds(50) + TestSupport.promptly)
        #expect(refusals.max()! < .milliseconds(20))
        #expect(worker.longestWait < .milliseconds(50) + TestSupport.promptly)

        gate.open()
        // The stuck decision returns and its answer is dropped; the next request is decided again.
        let decidedAgain = ContinuousClock.now + .seconds(2)
        var outcome = worker.decide(Self.request)
        while outcome == .busy, ContinuousClock.now < decidedAgain {
            usleep(1_000)
            outcome = worker.decide(Self.request)
        }
        #expect(outcome == .decided(.reject(.forbidden)))
        #expect(access.statistics.timedOut == 1)
        #expect(access.statistics.refusedWhileOverdue >= 20)
    }

    @Test("closing an idle worker joins its thread")
    func closeIdle() async throws {
        let worker = try AccessControlWorker.start(SRTAccessControl { _ in .accept }, logger: Logger(label: "test"))
        #expect(worker.decide(Self.request) == .decided(.accept))
        let thread = worker.workerThreadID
        #expect(thread > 0)
        #expect(Self.threadName(thread) == "srt-access")
        worker.close()
        // pthread_join returns once the thread ended; the kernel drops its /proc entry at about the same moment.
        #expect(await TestSupport.eventually(within: .seconds(1)) { Self.threadName(thread) == nil })
        #expect(worker.decide(Self.request) == .closed)
    }

    @Test("closing while the closure is stuck returns at once; the thread ends when the closure returns")
    func closeWhileStuck() async throws {
        let gate = Gate()
        let access = SRTAccessControl { _ in
            gate.pass(within: .seconds(5))
            return .accept
        }
        let worker = try AccessControlWorker.start(access, logger: Logger(label: "test"))
        #expect(worker.decide(Self.request) == .timedOut)
        let thread = worker.workerThreadID
        let started = ContinuousClock.now
        worker.close()
        let closeTook = ContinuousClock.now - started
        print("close with a stuck closure took \(closeTook)")
        #expect(closeTook < .milliseconds(20))
        #expect(worker.decide(Self.request) == .closed)
        // Still inside the user's closure: the thread lives, detached.
        #expect(Self.threadName(thread) == "srt-access")
        gate.open()
        #expect(await TestSupport.eventually(within: .seconds(2)) { Self.threadName(thread) == nil })
    }

    /// The name of this process's thread `id`, or `nil` when there is no such thread.
    static func threadName(_ id: Int32) -> String? {
        guard let name = try? String(contentsOfFile: "/proc/self/task/\(id)/comm", encoding: .utf8) else { return nil }
        return name.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// What a test's access control blocks on: ``pass(within:)`` returns when the test opens the gate, or after `limit`.
final class Gate: Sendable {
    private let isOpen = Atomic<Bool>(false)
    /// How many closures have entered so far.
    let entered = Atomic<Int>(0)

    func open() {
        isOpen.store(true, ordering: .releasing)
    }

    /// Blocks the calling thread (an access control's own) until the gate opens or `limit` passes.
    func pass(within limit: Duration) {
        entered.add(1, ordering: .relaxed)
        let deadline = ContinuousClock.now + limit
        while !isOpen.load(ordering: .acquiring), ContinuousClock.now < deadline { usleep(1_000) }
    }
}
