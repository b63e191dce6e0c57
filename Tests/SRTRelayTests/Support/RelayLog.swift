import Foundation
import Testing

/// The relay's JSON lines, read in order: `next("listening")` waits (bounded) for the next event of that kind
/// after the last one taken.
final class RelayLog: @unchecked Sendable {
    private let relay: TestProcess
    private var position = 0
    /// When the line that ``next(_:within:)`` matched last was read: unlike the instant `next` returns at, free of
    /// the delays of the test's own polling.
    private(set) var lastArrival: ContinuousClock.Instant?

    init(_ relay: TestProcess) {
        self.relay = relay
    }

    /// How many lines were read so far: pass it to ``first(_:since:within:)`` to look back from here.
    var mark: Int { position }

    /// The next `event` line after the previous match, within `limit`.
    func next(_ event: String, within limit: Duration = .seconds(10)) async throws -> [String: Any] {
        let (object, index) = try await first(event, since: position, within: limit)
        position = index + 1
        lastArrival = relay.arrival(ofLine: index)
        return object
    }

    /// The first `event` line at or after line `start`, within `limit`; does not move the position.
    func first(_ event: String, since start: Int, within limit: Duration = .seconds(10)) async throws -> (
        [String: Any], Int
    ) {
        let deadline = ContinuousClock.now + limit
        // Looks once more after the deadline: a starved pool may first run this task after it has passed, with the
        // line long there.
        while true {
            let expired = ContinuousClock.now >= deadline
            let lines = relay.lines
            for index in start..<max(start, lines.count) {
                if let object = Self.decode(lines[index]), object["event"] as? String == event {
                    return (object, index)
                }
            }
            if expired { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw RelayLogError(
            description:
                "no \"\(event)\" line within \(limit); output:\n\(relay.lines.joined(separator: "\n"))\n\(relay.standardError)"
        )
    }

    /// Waits until a status line counts at least `bytes` received in all (without moving the position).
    func waitForBytes(_ bytes: Int, within limit: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + limit
        // Once more after the deadline, as in `first`.
        while true {
            let expired = ContinuousClock.now >= deadline
            let counted =
                relay.lines.compactMap(Self.decode).filter { $0["event"] as? String == "status" }
                .compactMap { $0["bytes"] as? Int }.max() ?? 0
            if counted >= bytes { return }
            if expired { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // What happened rather than a screen of status lines: every other event, then the last status.
        let lines = relay.lines
        let events = lines.filter { Self.decode($0)?["event"] as? String != "status" }.suffix(30)
        let status = lines.last { Self.decode($0)?["event"] as? String == "status" }
        throw RelayLogError(
            description: "the relay did not count \(bytes) bytes within \(limit); its events and last status:\n"
                + (events + [status ?? "no status line"]).joined(separator: "\n"))
    }

    static func decode(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
}

struct RelayLogError: Error, CustomStringConvertible {
    let description: String
}
