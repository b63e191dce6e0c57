import CSRT
import Foundation
import Logging
import Testing

@testable import SRTAdapter

/// The verdicts of ``ReceivePathWatch`` from given looks, and what a look costs on a real connection.
@Suite("ReceivePathWatch: is a caller's receive thread reading?")
struct ReceivePathWatchTests {
    typealias Look = ReceivePathWatch.Look

    /// Looks `step` apart from a fixed instant, each with the given queue memory and activity.
    static func looks(_ values: [(memory: Int?, activity: Int64?)], step: Duration = .milliseconds(10)) -> [Look] {
        let start = ContinuousClock.now
        return values.enumerated().map { index, value in
            Look(at: start + step * index, isSocket: true, queueMemory: value.memory, activity: value.activity)
        }
    }

    static func verdicts(_ looks: [Look], unreadLimit: Duration = .milliseconds(250)) -> [ReceivePathWatch.Verdict] {
        var watch = ReceivePathWatch(unreadLimit: unreadLimit)
        return looks.map { watch.add($0) }
    }

    @Test("a descriptor that is no socket any more is deaf at the first look")
    func notASocket() {
        let look = Look(at: .now, isSocket: false, queueMemory: nil, activity: 7)
        #expect(Self.verdicts([look]) == [.deaf("its UDP descriptor is not a socket any more")])
    }

    @Test("a rising counter or a falling queue means reading, whatever waits in the queue")
    func reading() {
        #expect(Self.verdicts(Self.looks([(768, 10), (1_536, 10), (1_536, 11)])).last == .reading)
        #expect(Self.verdicts(Self.looks([(1_536, 10), (768, 10)])).last == .reading)
    }

    @Test("datagrams unread for the limit over three looks, nothing moving: deaf; before that: undecided")
    func unread() {
        // 27 looks 10 ms apart: 260 ms of a queue that only grows.
        let growing = Self.looks((0..<27).map { (768 * ($0 + 1), Int64(5)) })
        let verdicts = Self.verdicts(growing)
        #expect(verdicts.dropLast(2).allSatisfy { $0 == .undecided })
        guard case .deaf(let evidence) = verdicts.last else {
            Issue.record("expected deaf, got \(String(describing: verdicts.last))")
            return
        }
        #expect(evidence.contains("unread"))
    }

    @Test("two looks a second apart (a late task) are not enough; a queue that empties was read")
    func lateOrEmpty() {
        #expect(Self.verdicts(Self.looks([(768, 1), (768, 1)], step: .seconds(1))) == [.undecided, .undecided])
        // A queue found empty after datagrams waited: someone read them.
        let emptied = Self.looks([(768, 1), (768, 1), (0, 1)], step: .milliseconds(100))
        #expect(Self.verdicts(emptied) == [.undecided, .undecided, .reading])
        // An idle connection whose queue stays empty, counters still: nothing to tell.
        #expect(Self.verdicts(Self.looks(Array(repeating: (0, 3), count: 150))).allSatisfy { $0 == .undecided })
    }

    @Test("the look without a signal calls for a watch only on a non-socket or a queue waiting twice, not falling")
    func callsForWatch() {
        let at = ContinuousClock.now
        func look(_ memory: Int?, socket: Bool? = true) -> Look {
            Look(at: at, isSocket: socket, queueMemory: memory, activity: nil)
        }
        #expect(ReceivePathWatch.callsForWatch(nil, look(nil, socket: false)))
        #expect(ReceivePathWatch.callsForWatch(look(768), look(768)))
        #expect(!ReceivePathWatch.callsForWatch(look(1_536), look(768)))
        #expect(!ReceivePathWatch.callsForWatch(look(0), look(768)))
        #expect(!ReceivePathWatch.callsForWatch(nil, look(768)))
        // A caller on a fixed, shared port: nothing known, never a watch.
        #expect(!ReceivePathWatch.callsForWatch(look(nil, socket: nil), look(nil, socket: nil)))
    }

    @Test("a look on a live caller sees a socket and counters; what the periodic and the watch's look cost")
    func lookCost() async throws {
        let listener = try SRTListenSocket.open(TestSupport.loopback())
        defer { listener.close() }
        let (caller, accepted) = try await TestSupport.pair(listener)
        defer {
            caller.close()
            accepted.close()
        }
        #expect(caller.udpDescriptor != nil)
        let count = 10_000
        func perLook(counters: Bool) async -> Double {
            let started = ContinuousClock.now
            for _ in 0..<count { _ = await Look.take(caller, counters: counters) }
            return CallerTesting.seconds(ContinuousClock.now - started) / Double(count) * 1e6
        }
        let periodic = await perLook(counters: false)
        let full = await perLook(counters: true)
        let live = await Look.take(caller)
        #expect(live.isSocket == true && live.activity != nil)
        print(
            "CALLER-LOOK \(count) looks each: socket only \(String(format: "%.2f", periodic)) µs, with srt_bstats "
                + "\(String(format: "%.2f", full)) µs")
        // The figures are for the docs; a bound here would time the machine, not the look. The periodic look is
        // two system calls; the watch's adds a trip to the control thread for srt_bstats.
        #expect(periodic < 200)
    }
}

extension Loopback {
    /// What the look made without a death signal costs a process with many idle callers, against libsrt's own
    /// threads (every caller has its own UDP socket, so a receive and a send thread of its own).
    @Suite("The caller's periodic check: CPU cost")
    struct CallerPeriodicCheckCostTests {
        /// CPU seconds this process used so far (user + system).
        static var cpuSeconds: Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }

        /// Runs `count` idle callers against one server with `health`, and returns the share of one core the
        /// process used over `window` once all were connected.
        static func cpuShare(callers count: Int, health: SRTCallerHealthCheck, window: Duration) async throws -> Double
        {
            let server = SRTServer(configuration: try TestSupport.loopback(), name: "cost-peer", logger: quiet)
            let serving = Task { try await server.run() }
            defer { serving.cancel() }
            let port = try await TestSupport.within(.seconds(5)) {
                while server.localAddress == nil { try await Task.sleep(for: .milliseconds(5)) }
                return server.localAddress!.port
            }
            let callers = try (0..<count).map { index in
                SRTCaller(
                    configuration: try CallerTesting.configuration(
                        SRTAddress(validHost: "127.0.0.1", port: port), streamID: "idle-\(index)"),
                    health: health, logger: quiet)
            }
            let runs = callers.map { caller in Task { try await caller.run() } }
            defer { for run in runs { run.cancel() } }
            let connected = await TestSupport.eventually(within: .seconds(20)) {
                callers.allSatisfy { $0.connection != nil }
            }
            SocketReplacedScenario.check(connected, "all \(count) callers connected")
            let started = (ContinuousClock.now, cpuSeconds)
            // The measurement window itself: the cost of whatever runs meanwhile is what is measured.
            try await Task.sleep(for: window)
            return (cpuSeconds - started.1) / CallerTesting.seconds(ContinuousClock.now - started.0)
        }

        static let quiet = Logger(label: "cost", factory: { _ in SwiftLogNoOpLogHandler() })

        @Test("100 idle callers, a look every second vs every 10 minutes: the difference is the look's")
        func periodicLookCost() async throws {
            // In a child process (an exit test): the CPU time measured is the callers', not that of the suites
            // running beside them in the test process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(Self.periodicLookCostScenario)
            }
            TestSupport.expectChild(result, marker: "CALLER-COST")
        }

        static func periodicLookCostScenario() async throws {
            let window = Duration.seconds(3)
            let every10Minutes = try SRTCallerHealthCheck(checkInterval: .seconds(600))
            let threads = TestSupport.threadCount
            let off = try await cpuShare(callers: 100, health: every10Minutes, window: window)
            // libsrt tears the first callers' threads down a second or two after their close: not the look's cost.
            let settled = await TestSupport.eventually(within: .seconds(15)) { TestSupport.threadCount <= threads + 8 }
            SocketReplacedScenario.check(settled, "threads: \(TestSupport.threadCount), before \(threads)")
            let on = try await cpuShare(callers: 100, health: .standard, window: window)
            print(
                "CALLER-COST 100 idle callers: CPU \(String(format: "%.2f", on * 100)) % of a core with a look every "
                    + "second, \(String(format: "%.2f", off * 100)) % with one every 10 minutes")
            // Loose: the look is sub-microsecond; the bound only catches a check that became expensive.
            SocketReplacedScenario.check(
                on - off < 0.05, "the looks cost \(String(format: "%.2f", (on - off) * 100)) %")
            print("CALLER-COST OK")
        }
    }
}
