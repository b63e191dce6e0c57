import Foundation
import Logging
import Supervisor
import SupervisorTestKit
import Testing

/// Many supervisors, each through a long random script of faults, under virtual time.
///
/// CI runs 1,000 supervisors × 1,000 faults. `SUPERVISOR_SOAK_SUPERVISORS` and `SUPERVISOR_SOAK_FAULTS` scale it up
/// (`make soak` runs 10,000 × 1,000: 10⁷ faults).
@Suite("Supervisor soak under virtual time", .timeLimit(.minutes(10)))
struct SupervisorSoakTests {
    static let supervisors = Int(ProcessInfo.processInfo.environment["SUPERVISOR_SOAK_SUPERVISORS"] ?? "") ?? 1_000
    static let faults = Int(ProcessInfo.processInfo.environment["SUPERVISOR_SOAK_FAULTS"] ?? "") ?? 1_000

    /// How a soaked supervisor's script ends.
    enum Finale: CaseIterable {
        case fatal, stop, cancellation, intensityGiveUp
    }

    struct Outcome {
        var finale: Finale
        var ledger: ScriptedResource.Ledger.Snapshot
        var startCallsAfterReturn: Int
        var result: Result<Void, any Error>
        var faults: Int
    }

    static func soakOne(index: Int, seed: UInt64) async throws -> Outcome {
        var random = SplitMix64(seed: seed)
        let finale = Finale.allCases[Int(random.next() % UInt64(Finale.allCases.count))]
        var script: [ScriptedResource.Step] = []
        for _ in 0..<(faults - 1) {
            switch random.next() % 5 {
            case 0, 1: script.append(.failStart(Transient()))
            case 2: script.append(.run(for: .milliseconds(Int64(random.next() % 20_000)), then: .fail(Transient())))
            case 3: script.append(.run(for: .milliseconds(Int64(random.next() % 20_000)), then: .complete))
            default: script.append(.failStart(Throttled(retryAfter: .milliseconds(Int64(random.next() % 100)))))
            }
        }
        switch finale {
        case .fatal: script.append(.run(for: .seconds(1), then: .fail(Fatal())))
        case .stop: script.append(.failStart(ClosedByUs()))
        case .cancellation, .intensityGiveUp: break  // past the script: ready and hanging until cancelled
        }
        let policy: RestartPolicy
        if finale == .intensityGiveUp {
            // Every scripted step restarts once; the last one is one restart more than allowed within a year.
            policy = try RestartPolicy(
                backoff: .exponential(initial: .milliseconds(1), maximum: .seconds(1)).jitter(.full),
                intensity: RestartIntensity(maxRestarts: script.count - 1, within: .seconds(365 * 86_400)),
                // Its clock's sleeps return at once: a stop timeout would expire before any stop could finish.
                stopTimeout: nil
            )
        } else {
            policy = try RestartPolicy(
                backoff: .exponential(initial: .milliseconds(1), maximum: .seconds(2)).jitter(.full),
                intensity: RestartIntensity(maxRestarts: 20, within: .seconds(10)),
                escalation: .degrade(probeInterval: .seconds(5)),
                stableUptime: .seconds(10),
                stopTimeout: nil
            )
        }
        let clock = SkipAheadClock()
        let resource = ScriptedResource(clock: clock, script: script)
        let supervisor = ResourceSupervisor(
            resource,
            name: "soak-\(index)",
            policy: policy,
            clock: clock,
            generator: { SplitMix64(seed: seed) },
            logger: Logger(label: "soak", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        if finale == .cancellation {
            // Cancel once the whole script has been played and the instance past it is ready (and hanging).
            let readyBeforeHang = script.count { if case .run = $0 { true } else { false } }
            for _ in 0...readyBeforeHang {
                _ = await recorder.next { if case .ready = $0 { true } else { false } }
            }
            task.cancel()
        }
        let result = await task.result
        let startCalls = resource.ledger.snapshot.startCalls
        await Task.yield()
        let ledger = resource.ledger.snapshot
        return Outcome(
            finale: finale,
            ledger: ledger,
            startCallsAfterReturn: ledger.startCalls - startCalls,
            result: result,
            faults: script.count + (finale == .cancellation ? 1 : 0)
        )
    }

    @Test("1,000 supervisors × 1,000 random faults: every start stopped once, no start after stop, every run returned")
    func soak() async throws {
        var totalFaults = 0
        var finales: [Finale: Int] = [:]
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            var next = 0
            // A bounded number in flight keeps memory flat however large the soak.
            for _ in 0..<min(64, Self.supervisors) {
                let index = next
                group.addTask { try await Self.soakOne(index: index, seed: UInt64(index) &* 0x9E37) }
                next += 1
            }
            while let outcome = try await group.next() {
                check(outcome)
                totalFaults += outcome.faults
                finales[outcome.finale, default: 0] += 1
                if next < Self.supervisors {
                    let index = next
                    group.addTask { try await Self.soakOne(index: index, seed: UInt64(index) &* 0x9E37) }
                    next += 1
                }
            }
        }
        #expect(finales.values.reduce(0, +) == Self.supervisors)
        #expect(Set(finales.keys) == Set(Finale.allCases))
        #expect(totalFaults >= Self.supervisors * (Self.faults - 1))
        print("soak: \(Self.supervisors) supervisors, \(totalFaults) faults, finales \(finales)")
    }

    func check(_ outcome: Outcome) {
        let ledger = outcome.ledger
        #expect(ledger.violations.isEmpty, "\(ledger.violations.prefix(3))")
        #expect(ledger.starts == ledger.stops, "\(ledger.starts) starts, \(ledger.stops) stops")
        #expect(ledger.runsInProgress == 0)
        #expect(outcome.startCallsAfterReturn == 0)
        switch (outcome.finale, outcome.result) {
        case (.fatal, .failure(let error as SupervisorError)):
            #expect(error.code == .fatal)
        case (.intensityGiveUp, .failure(let error as SupervisorError)):
            #expect(error.code == .intensityExceeded)
        case (.stop, .success), (.cancellation, .success):
            break
        default:
            Issue.record("\(outcome.finale) ended with \(outcome.result)")
        }
        // One start per scripted step, plus the instance that was ready when cancelled.
        #expect(ledger.startCalls == outcome.faults)
    }
}
