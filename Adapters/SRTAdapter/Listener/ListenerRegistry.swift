import CSRT
import Logging
import Synchronization

/// What libsrt's listen callback needs to know about one listener, reached through an integer key in `opaque`:
/// a key, not a pointer, so that a handshake racing `srt_close` finds nothing instead of freed memory.
final class ListenerContext: Sendable {
    let probeStreamID: String
    let maxConnections: Int
    /// Runs the access control off the receive thread; `nil` without one.
    let accessWorker: AccessControlWorker?
    /// Accepted connections still open, by socket; weak, the application owns them.
    let connections = Mutex<[SRTSOCKET: WeakConnection]>([:])
    /// Handshakes admitted by the listen callback and not accepted yet, with the instant of admission. They count
    /// against the cap too: under a flood many handshakes pass the callback before the first is accepted.
    let admitted = Mutex<[SRTSOCKET: ContinuousClock.Instant]>([:])

    /// How long an admitted handshake holds its slot without being accepted (libsrt gives up on it long before).
    static let admissionLifetime = Duration.seconds(10)

    /// - Throws: ``SRTError`` (``SRTError/Code/thread``) when the access control's thread cannot start.
    init(
        probeStreamID: String, maxConnections: Int, accessControl: SRTAccessControl?, logger: Logger
    ) throws(SRTError) {
        self.probeStreamID = probeStreamID
        self.maxConnections = maxConnections
        self.accessWorker = try accessControl.map { access throws(SRTError) in
            try AccessControlWorker.start(access, logger: logger)
        }
    }

    /// Stops the access control's thread (see ``AccessControlWorker/close()``); handshakes still in flight are
    /// rejected as unavailable. Idempotent.
    func close() {
        accessWorker?.close()
    }

    var openConnectionCount: Int {
        connections.withLock { $0.count }
    }

    /// Admits `socket` if the open and admitted connections leave room under the cap; forgets stale admissions.
    func admit(_ socket: SRTSOCKET) -> Bool {
        let now = ContinuousClock.now
        return admitted.withLock { admitted in
            admitted = admitted.filter { now - $0.value < Self.admissionLifetime }
            // Counted under this lock: an accept moves a handshake from `admitted` to `connections` (adding, then
            // settling), so a count read before the lock could miss it in both and let one past the cap (101 of 100
            // seen under a flood). Lock order: `admitted`, then `connections`.
            let open = openConnectionCount
            guard open + admitted.count < maxConnections else { return false }
            admitted[socket] = now
            return true
        }
    }

    /// The admitted handshake became a connection (now counted among the open ones), or was given up.
    func settle(_ socket: SRTSOCKET) {
        _ = admitted.withLock { $0.removeValue(forKey: socket) }
    }
}

struct WeakConnection: Sendable {
    weak var connection: SRTConnection?
}

/// The process-wide table from a listen callback's key to its listener's context.
enum ListenerRegistry {
    private struct Table {
        var contexts: [Int: ListenerContext] = [:]
        var nextKey = 1
    }

    private static let table = Mutex(Table())
    static let logger = Logger(label: "srt.access")

    static func add(_ context: ListenerContext) -> Int {
        table.withLock { table in
            defer { table.nextKey += 1 }
            table.contexts[table.nextKey] = context
            return table.nextKey
        }
    }

    /// Forgets the listener and stops its access-control thread.
    static func remove(_ key: Int) {
        let context = table.withLock { $0.contexts.removeValue(forKey: key) }
        context?.close()
    }

    static func context(_ key: Int) -> ListenerContext? {
        table.withLock { $0.contexts[key] }
    }

    /// Decides one handshake; runs on libsrt's receive thread under its lock, so it waits for the access control
    /// at most its deadline (``AccessControlWorker``).
    static func decide(
        key: Int, socket: SRTSOCKET, streamID: String, peer: SRTAddress?, handshakeVersion: Int
    ) -> SRTRejectReason? {
        // A listener closed while this handshake was in flight.
        guard let context = context(key) else { return .unavailable }
        // The self-probe: a live listener answers it at once with the private code.
        if streamID == context.probeStreamID { return .probe }
        if context.openConnectionCount >= context.maxConnections { return .overload }
        guard let worker = context.accessWorker else { return context.admit(socket) ? nil : .overload }
        let request = SRTAccessRequest(streamID: streamID, peerAddress: peer, handshakeVersion: handshakeVersion)
        switch worker.decide(request) {
        case .decided(let decision):
            if let reason = decision.rejectReason { return reason }
        case .timedOut, .busy, .closed:
            // No answer in time (or no listener any more): "the service is unavailable", try again later.
            return .unavailable
        }
        return context.admit(socket) ? nil : .overload
    }
}

/// libsrt's listen callback: cannot capture context, so `opaque` carries the registry key.
let listenCallback:
    @convention(c) (
        UnsafeMutableRawPointer?, SRTSOCKET, Int32, UnsafePointer<sockaddr>?, UnsafePointer<CChar>?
    ) -> Int32 = { opaque, socket, handshakeVersion, peer, streamID in
        let reason = ListenerRegistry.decide(
            key: Int(bitPattern: opaque),
            socket: socket,
            streamID: streamID.map { String(cString: $0) } ?? "",
            peer: peer.flatMap { SRTAddress($0) },
            handshakeVersion: Int(handshakeVersion))
        guard let reason else { return 0 }
        srt_setrejectreason(socket, reason.code)
        return -1
    }
