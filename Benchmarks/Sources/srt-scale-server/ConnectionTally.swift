import SRTAdapter
import Synchronization

/// What one accepted connection delivered, judged against what `callers.c` sends: MESSAGES messages whose payload
/// starts with (connection index, sequence number, send instant), little-endian, 16 bytes.
struct ConnectionTally: Sendable {
    /// Messages received on every connection so far, for the progress samples.
    static let messagesSoFar = Atomic<Int>(0)

    let streamID: String
    /// The connection index in the payloads; -1 before the first message.
    private(set) var index = -1
    private(set) var received = 0
    private(set) var bytes = 0
    private(set) var duplicates = 0
    /// Messages whose sequence number was below one already received.
    private(set) var outOfOrder = 0
    /// Messages carrying another connection's index, or too short to carry one.
    private(set) var foreign = 0
    /// Send-to-delivery times, in microseconds (one process's CLOCK_MONOTONIC against another's: the same clock).
    private(set) var latenciesMicroseconds: [UInt32] = []
    /// How the connection ended.
    private(set) var ending = ""
    private var seen: [Bool]
    private var highest = -1

    init(streamID: String, messages: Int) {
        self.streamID = streamID
        self.seen = [Bool](repeating: false, count: messages)
        latenciesMicroseconds.reserveCapacity(messages)
    }

    /// Distinct sequence numbers received, out of `messages`.
    var distinct: Int {
        seen.reduce(0) { $0 + ($1 ? 1 : 0) }
    }

    /// Sequence numbers never received.
    var lost: Int {
        seen.count - distinct
    }

    /// Reads `connection` until the caller goes away (or the task is cancelled), then closes it.
    static func read(_ connection: SRTConnection, messages: Int) async -> ConnectionTally {
        var tally = ConnectionTally(streamID: connection.streamID, messages: messages)
        do {
            for try await message in connection.messages {
                tally.count(message, at: ProcessFigures.monotonicNanoseconds())
                ConnectionTally.messagesSoFar.add(1, ordering: .relaxed)
            }
            tally.ending = "closed"
        } catch is CancellationError {
            tally.ending = "deadline"
        } catch let error as SRTError {
            // The callers closing is the normal end: 2001, or 5004 once libsrt released the socket.
            tally.ending = "\(error.code.rawValue)"
        } catch {
            tally.ending = "\(error)"
        }
        connection.close()
        return tally
    }

    mutating func count(_ message: [UInt8], at now: Int64) {
        received += 1
        bytes += message.count
        guard message.count >= 16 else {
            foreign += 1
            return
        }
        let (index, sequence, sent) = message.withUnsafeBytes { bytes in
            (
                Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))),
                Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))),
                Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: Int64.self))
            )
        }
        if self.index < 0 { self.index = index }
        guard index == self.index, sequence < seen.count else {
            foreign += 1
            return
        }
        if seen[sequence] {
            duplicates += 1
        } else {
            seen[sequence] = true
        }
        if sequence < highest { outOfOrder += 1 }
        highest = max(highest, sequence)
        latenciesMicroseconds.append(UInt32(clamping: max(0, now - sent) / 1_000))
    }
}
