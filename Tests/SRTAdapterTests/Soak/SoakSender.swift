import Synchronization

@testable import SRTAdapter

/// Sends one numbered live stream (``SoakMessage``), across as many connections as it is given, and counts what
/// libsrt took.
final class SoakSender: Sendable {
    private let next = Mutex<UInt64>(0)
    private let stopped = Atomic<Bool>(false)

    /// Messages libsrt accepted so far; also the sequence number of the next one.
    var sent: UInt64 {
        next.withLock { $0 }
    }

    /// Ends every ``stream(on:every:)`` at its next message.
    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    var isStopped: Bool {
        stopped.load(ordering: .acquiring)
    }

    /// Sends the next messages on `connection`, one every `interval`, until ``stop()`` (returns `nil`) or until a
    /// send fails (returns its error: the connection broke).
    func stream(on connection: SRTConnection, every interval: Duration) async -> (any Error)? {
        while !isStopped {
            let sequence = sent
            do {
                try await connection.send(SoakMessage.make(sequence))
                next.withLock { $0 = sequence + 1 }
                try await Task.sleep(for: interval)
            } catch {
                return isStopped ? nil : error
            }
        }
        return nil
    }
}
