import CSRT
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What libsrt's listen callback needs to know about one listener, reached through an integer key in `opaque`:
/// a key, not a pointer, so that a handshake racing `srt_close` finds nothing instead of freed memory.
final class ListenerContext: Sendable {
    let probeStreamID: String
    let maxConnections: Int
    /// Runs the access control off the receive thread; `nil` without one, or when it is immediate.
    let accessWorker: AccessControlWorker?
    /// An ``SRTAccessControl/immediate(_:)`` access control, asked on the receive thread itself.
    let immediateAccess: SRTAccessControl?
    /// Accepted connections still open, by socket; weak, the application owns them.
    let connections = Mutex<[SRTSOCKET: WeakConnection]>([:])
    /// The contexts of the closed listeners whose open connections share this listener's UDP socket (a restart's
    /// predecessors): the connection cap counts theirs too. Set before `srt_listen`, so before any handshake.
    let predecessors = Mutex<[ListenerContext]>([])
    /// Handshakes admitted by the listen callback and not accepted yet (see ``PendingHandshakes``: a handshake
    /// libsrt rejects after the callback frees its slot by the next decision).
    let pending: Mutex<PendingHandshakes>
    /// The kernel's id of the multiplexer's receive thread, 0 while unknown: told apart at bind when it can be, and
    /// learned for certain from every handshake, since libsrt runs the listen callback on that thread.
    let receiveThread = Atomic<Int32>(0)
    /// Turns every caller away as unavailable (1503): set while the listener is kept through a restart and no start
    /// took it in time, so that no caller is connected into a queue that no run may ever read.
    let refusing = Atomic<Bool>(false)

    /// - Throws: ``SRTError`` (``SRTError/Code/thread``) when the access control's thread cannot start.
    init(
        probeStreamID: String, maxConnections: Int, maxPendingPerAddress: Int, accessControl: SRTAccessControl?,
        logger: Logger
    ) throws(SRTError) {
        self.probeStreamID = probeStreamID
        self.maxConnections = maxConnections
        self.pending = Mutex(PendingHandshakes(maxPerHost: maxPendingPerAddress))
        self.immediateAccess = accessControl?.runsOnReceiveThread == true ? accessControl : nil
        self.accessWorker = try accessControl.flatMap { access throws(SRTError) in
            access.runsOnReceiveThread ? nil : try AccessControlWorker.start(access, logger: logger)
        }
    }

    /// Stops the access control's thread (see ``AccessControlWorker/close()``); handshakes still in flight are
    /// rejected as unavailable. Idempotent.
    func close() {
        accessWorker?.close()
    }

    /// The open connections the cap counts: this listener's and those of its predecessors on the same UDP socket.
    var openConnectionCount: Int {
        connections.withLock { $0.count } + predecessors.withLock { $0 }.reduce(0) { $0 + $1.ownConnectionCount }
    }

    /// This listener's own accepted connections that are still open.
    var ownConnectionCount: Int {
        connections.withLock { $0.count }
    }

    /// Admits `socket` from `peer` if the open connections and pending handshakes leave room under the cap and
    /// the peer's host is within its share; runs on the receive thread, inside the listen callback.
    func admit(_ socket: SRTSOCKET, peer: SRTAddress?) -> PendingHandshakes.Verdict {
        let now = ContinuousClock.now
        return pending.withLock { pending in admitUnderLock(socket, peer: peer, now: now, pending: &pending) }
    }

    private func admitUnderLock(
        _ socket: SRTSOCKET, peer: SRTAddress?, now: ContinuousClock.Instant, pending: inout PendingHandshakes
    ) -> PendingHandshakes.Verdict {
        // Counted under this lock: an accept moves a handshake from `pending` to `connections` (adding, then
        // settling), so a count read before the lock could miss it in both and let one past the cap (101 of 100
        // seen under a flood). Lock order: `pending`, then `predecessors`, then `connections` (this context's, then
        // its predecessors'), then libsrt's global lock (the state lookups; the receive thread already holds the
        // listener lock, in libsrt's own order).
        pending.admit(
            socket, host: peer?.host ?? "", open: openConnectionCount, cap: maxConnections, now: now,
            isGone: Self.isGone)
    }

    /// Whether libsrt ended an admitted handshake (rejected it after the callback, or the caller vanished).
    private static func isGone(_ socket: SRTSOCKET) -> Bool {
        SRTSocketState(srt_getsockstate(socket)).isClosedOrBroken
    }

    /// The admitted handshake became a connection (now counted among the open ones), or was given up.
    func settle(_ socket: SRTSOCKET) {
        pending.withLock { $0.settle(socket) }
    }
}

struct WeakConnection: Sendable {
    weak var connection: SRTConnection?
}
