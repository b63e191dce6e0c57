import CSRT
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
    ) -> SRTAccessDecision {
        // A listener closed while this handshake was in flight.
        guard let context = context(key) else { return .reject(.unavailable) }
        // The callback runs on the listener's receive thread: the one whose death makes this listener deaf.
        context.receiveThread.store(csrt_thread_id(), ordering: .relaxed)
        // The self-probe: a live listener answers it at once with the private code.
        if streamID == context.probeStreamID { return .reject(.probe) }
        // Kept with no run to accept: "unavailable, try again later", told at once.
        if context.refusing.load(ordering: .relaxed) { return .reject(.unavailable) }
        if context.openConnectionCount >= context.maxConnections { return .reject(.overload) }
        let request = SRTAccessRequest(streamID: streamID, peerAddress: peer, handshakeVersion: handshakeVersion)
        let decision: SRTAccessDecision
        if let access = context.immediateAccess {
            decision = access.decide(request)
            access.counters.answeredInTime.add(1, ordering: .relaxed)
        } else if let worker = context.accessWorker {
            switch worker.decide(request) {
            case .decided(let decided):
                decision = decided
            case .timedOut, .busy, .closed:
                // No answer in time (or no listener any more): "the service is unavailable", try again later.
                return .reject(.unavailable)
            }
        } else {
            decision = .accept
        }
        if decision.rejectReason != nil { return decision }
        if let reason = context.admit(socket, peer: peer).rejectReason { return .reject(reason) }
        return decision
    }
}

extension PendingHandshakes.Verdict {
    /// What the caller is told: nothing when admitted, ``SRTRejectReason/overload`` otherwise.
    var rejectReason: SRTRejectReason? {
        switch self {
        case .admitted: nil
        case .overCap, .overHostShare: .overload
        }
    }
}

/// libsrt's listen callback: cannot capture context, so `opaque` carries the registry key.
let listenCallback:
    @convention(c) (
        UnsafeMutableRawPointer?, SRTSOCKET, Int32, UnsafePointer<sockaddr>?, UnsafePointer<CChar>?
    ) -> Int32 = { opaque, socket, handshakeVersion, peer, streamID in
        let decision = ListenerRegistry.decide(
            key: Int(bitPattern: opaque),
            socket: socket,
            streamID: streamID.map { String(cString: $0) } ?? "",
            peer: peer.flatMap { SRTAddress($0) },
            handshakeVersion: Int(handshakeVersion))
        guard let reason = decision.rejectReason else {
            // The caller's own passphrase, set on the socket about to be accepted: libsrt checks the caller's key
            // material against it once the callback returns.
            guard let passphrase = decision.passphrase else { return 0 }
            // Every byte, by count (a passphrase holds no NUL, and the length is not taken from one).
            let bytes = Array(passphrase.secret.utf8)
            let set = bytes.withUnsafeBytes {
                srt_setsockflag(socket, SRTO_PASSPHRASE, $0.baseAddress, Int32($0.count))
            }
            guard set != SRT_ERROR else {
                // Not settable: refused rather than let in without the secret.
                srt_setrejectreason(socket, SRTRejectReason.unavailable.code)
                return -1
            }
            return 0
        }
        srt_setrejectreason(socket, reason.code)
        return -1
    }
