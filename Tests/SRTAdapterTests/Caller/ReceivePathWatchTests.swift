import CSRT
import Foundation
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

    @Test("cost of a look on a live caller: the periodic one (socket only) and the watch's (with srt_bstats)")
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
        func perLook(counters: Bool) -> Double {
            let started = ContinuousClock.now
            for _ in 0..<count { _ = Look(caller, counters: counters) }
            return CallerTesting.seconds(ContinuousClock.now - started) / Double(count) * 1e6
        }
        let periodic = perLook(counters: false)
        let full = perLook(counters: true)
        let live = Look(caller)
        #expect(live.isSocket == true && live.activity != nil)
        print(
            "CALLER-LOOK \(count) looks each: socket only \(String(format: "%.2f", periodic)) µs, with srt_bstats "
                + "\(String(format: "%.2f", full)) µs")
        // Loose bounds: a loaded machine is slower, but never by orders of magnitude.
        #expect(periodic < 200)
        #expect(full < 500)
    }
}
