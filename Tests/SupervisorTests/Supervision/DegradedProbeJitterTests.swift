import Supervisor
import Testing

@testable import Supervisor

/// Degraded probes: jittered around the probe interval by default, so that supervisors degraded at one instant drift
/// apart; exact when the escalation asks for it.
@Suite("Degraded probe jitter")
struct DegradedProbeJitterTests {
    /// The delays of `count` probes of a supervisor degraded at its second failure, drawn with `seed`.
    static func probeDelays(_ escalation: Escalation, count: Int, seed: UInt64) throws -> [Duration] {
        let policy = try RestartPolicy(
            backoff: .constant(.seconds(1)),
            intensity: RestartIntensity(maxRestarts: 1, within: .seconds(60)),
            escalation: escalation
        )
        var machine = SupervisorStateMachine(policy: policy, generator: SplitMix64(seed: seed))
        _ = machine.begin(at: .zero)
        _ = machine.startFailed(Transient(), at: .zero)
        _ = machine.backoffEnded()
        var now = Duration.seconds(1)
        var delays: [Duration] = []
        for _ in 0..<count {
            guard case .restart(let restart) = machine.startFailed(Transient(), at: now).outcome else {
                Issue.record("finished while degraded")
                return delays
            }
            #expect(machine.isDegraded)
            delays.append(restart.delay)
            now = restart.until
            _ = machine.backoffEnded()
        }
        return delays
    }

    @Test("by default each probe waits the interval ±20 %, spread over that range, with the interval as mean")
    func jitteredByDefault() throws {
        let delays = try Self.probeDelays(.degrade(probeInterval: .seconds(30)), count: 1_000, seed: 7)
        let seconds = delays.map(\.inSeconds)
        // Within [24 s, 36 s): proportional jitter of 0.2 around 30 s.
        #expect(seconds.allSatisfy { $0 >= 24 && $0 < 36 }, "\(seconds.min() ?? 0)...\(seconds.max() ?? 0)")
        // Spread over the range, not bunched: every 1.2 s tenth of it holds some (100 expected, 50 at least).
        for tenth in 0..<10 {
            let low = 24 + 1.2 * Double(tenth)
            let count = seconds.filter { $0 >= low && $0 < low + 1.2 }.count
            #expect(count >= 50, "tenth \(tenth): \(count) probes")
        }
        let mean = seconds.reduce(0, +) / Double(seconds.count)
        // The standard error of the mean is 3.5 s / √1000 ≈ 0.11 s: 0.5 s is more than four of them.
        #expect(abs(mean - 30) < 0.5, "mean \(mean) s")
        #expect(Set(delays).count > 900, "\(Set(delays).count) distinct delays of 1,000")
    }

    @Test("two supervisors degraded at one instant do not probe together")
    func twoSupervisorsDriftApart() throws {
        let first = try Self.probeDelays(.degrade(probeInterval: .seconds(30)), count: 10, seed: 1)
        let second = try Self.probeDelays(.degrade(probeInterval: .seconds(30)), count: 10, seed: 2)
        let firstInstants = first.reduce(into: [Duration]()) { $0.append(($0.last ?? .zero) + $1) }
        let secondInstants = second.reduce(into: [Duration]()) { $0.append(($0.last ?? .zero) + $1) }
        let apart = zip(firstInstants, secondInstants).map { abs(($0 - $1).inSeconds) }
        // After ten probes each, the two are seconds apart rather than at the same instant.
        #expect((apart.last ?? 0) > 1, "\(apart)")
    }

    @Test("probeJitter: .none keeps every probe exactly on the interval")
    func exactWhenAsked() throws {
        let exact = try Escalation.degrade(probeInterval: .seconds(30), probeJitter: .none)
        let delays = try Self.probeDelays(exact, count: 100, seed: 7)
        #expect(delays.allSatisfy { $0 == .seconds(30) }, "\(Set(delays))")
        #expect(exact.probeJitter == Jitter.none)
        #expect(try Escalation.degrade(probeInterval: .seconds(30)).probeJitter == Escalation.standardProbeJitter)
        #expect(Escalation.giveUp.probeJitter == nil)
    }
}
