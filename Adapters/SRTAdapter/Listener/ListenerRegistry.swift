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
    ) -> SRTRejectReason? {
        // A listener closed while this handshake was in flight.
        guard let context = context(key) else { return .unavailable }
        // The callback runs on the listener's receive thread: the one whose death makes this listener deaf.
        context.receiveThread.store(csrt_thread_id(), ordering: .relaxed)
        // The self-probe: a live listener answers it at once with the private code.
        if streamID == context.probeStreamID { return .probe }
        // Kept with no run to accept: "unavailable, try again later", told at once.
        if context.refusing.load(ordering: .relaxed) { return .unavailable }
        if context.openConnectionCount >= context.maxConnections { return .overload }
        let request = SRTAccessRequest(streamID: streamID, peerAddress: peer, handshakeVersion: handshakeVersion)
        if let access = context.immediateAccess {
            let decision = access.decide(request)
            access.counters.answeredInTime.add(1, ordering: .relaxed)
            if let reason = decision.rejectReason { return reason }
            return context.admit(socket, peer: peer).rejectReason
        }
        guard let worker = context.accessWorker else { return context.admit(socket, peer: peer).rejectReason }
        switch worker.decide(request) {
        case .decided(let decision):
            if let reason = decision.rejectReason { return reason }
        case .timedOut, .busy, .closed:
            // No answer in time (or no listener any more): "the service is unavailable", try again later.
            return .unavailable
        }
        return context.admit(socket, peer: peer).rejectReason
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
