import Synchronization

@testable import SRTAdapter

/// What arrived of one numbered live stream (``SoakMessage``), over all the connections that carried it.
final class SoakLedger: Sendable {
    struct Figures: Sendable {
        /// Intact messages received, and their bytes.
        var messages = 0
        var bytes = 0
        /// Sequence numbers skipped between two messages of the same connection.
        var skipped: UInt64 = 0
        /// Messages whose number was not above the previous one on the same connection (repeated or reordered).
        var outOfOrder = 0
        /// Messages that were not intact.
        var damaged = 0
        /// Connections that delivered at least one message.
        var connections = 0
        /// The highest sequence number received.
        var highest: UInt64?
    }

    private let state = Mutex(Figures())

    var figures: Figures {
        state.withLock { $0 }
    }

    /// Receives from `connection` until it is closed here (returns `nil`) or it fails (returns the error); calls
    /// `onFirst` when its first message arrives.
    func receive(from connection: SRTConnection, onFirst: @Sendable () -> Void = {}) async -> (any Error)? {
        var previous: UInt64?
        do {
            for try await message in connection.messages {
                let sequence = SoakMessage.sequence(of: message)
                state.withLock { figures in
                    guard let sequence else {
                        figures.damaged += 1
                        return
                    }
                    figures.messages += 1
                    figures.bytes += message.count
                    figures.highest = max(figures.highest ?? 0, sequence)
                    if let previous {
                        if sequence <= previous {
                            figures.outOfOrder += 1
                        } else {
                            figures.skipped += sequence - previous - 1
                        }
                    } else {
                        figures.connections += 1
                    }
                }
                if previous == nil { onFirst() }
                if let sequence { previous = max(previous ?? 0, sequence) }
            }
            return nil
        } catch {
            return error
        }
    }
}
