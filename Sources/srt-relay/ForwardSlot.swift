import SRTAdapter
import Synchronization

/// The one publisher a `--forward` relay carries at a time: a UDP target takes one MPEG-TS stream, and two streams
/// interleaved there are garbage for every receiver. The access control refuses a second publisher in its handshake
/// (``SRTRejectReason/conflict``, 1409) while the slot is taken; the relay claims the slot before it forwards, so a
/// publisher that slipped through in the same instant is closed instead of mixed in.
///
/// ```swift
/// let slot = ForwardSlot()
/// guard slot.claim(connection) else { return connection.close() }
/// defer { slot.release(connection) }
/// ```
final class ForwardSlot: Sendable {
    private let holder = Mutex<ObjectIdentifier?>(nil)

    /// Whether a publisher holds the slot now.
    var isTaken: Bool {
        holder.withLock { $0 != nil }
    }

    /// Takes the slot for `connection`; `false` when another connection holds it.
    func claim(_ connection: SRTConnection) -> Bool {
        holder.withLock { holder in
            guard holder == nil else { return false }
            holder = ObjectIdentifier(connection)
            return true
        }
    }

    /// Frees the slot if `connection` holds it.
    func release(_ connection: SRTConnection) {
        holder.withLock { holder in
            if holder == ObjectIdentifier(connection) { holder = nil }
        }
    }
}
