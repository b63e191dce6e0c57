import Foundation

/// How long the SRT soak runs and how often it breaks the faulted listener, from the environment.
///
/// The short form (CI, the default): `SRT_SOAK_SECONDS=30`, `SRT_SOAK_FAULT_INTERVAL=7`. The long form (`make soak`):
/// `SRT_SOAK_SECONDS=1800 SRT_SOAK_FAULT_INTERVAL=10`, 180 faults in 30 minutes. `SRT_SOAK_PROGRESS=<file>` appends
/// each fault's line to that file as it happens (the test shows the child's output only when it ends).
///
/// Why 7 s and not less: the publisher learns that its listener died only from libsrt's peer-idle timer, about 5 s
/// after the last packet it heard (`SRTConnection.ended(peer:)`), so a fault every 3 s would break it again before
/// it had resumed. A cycle that needs longer stretches; it is never cut short.
struct SRTSoakSettings: Sendable {
    /// The whole soak, from the first message of both streams to the end of the last fault's interval.
    let duration: Duration
    /// One fault in the middle of each interval.
    let faultInterval: Duration
    /// Time between two messages of one stream: about 330 messages of 1316 bytes a second, 3.5 Mbit/s.
    let messageInterval = Duration.milliseconds(3)

    /// What the environment asks for; a missing or unreadable value takes the short form's.
    static let current = SRTSoakSettings(environment: ProcessInfo.processInfo.environment)

    init(environment: [String: String]) {
        let seconds = environment["SRT_SOAK_SECONDS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 30
        let interval = environment["SRT_SOAK_FAULT_INTERVAL"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 7
        duration = .seconds(seconds)
        faultInterval = .seconds(interval)
    }

    /// How many faults the soak injects: one per whole interval, at least one.
    var faults: Int {
        max(1, Int(duration.components.seconds / faultInterval.components.seconds))
    }

    /// The test's time limit: the soak, plus a minute for start-up and draining, plus room for cycles that stretch.
    var timeLimitMinutes: Int {
        Int(duration.components.seconds / 60) * 2 + 2
    }
}
