import CSRT

extension SRTError {
    /// libsrt's error code (`SRT_ERRNO`, `major * 1000 + minor`), as a struct with static members so that codes the
    /// adapter does not name still round-trip through ``rawValue``.
    ///
    /// ```swift
    /// if error.code == .socketFailure { … }    // 1003
    /// print(SRTError.Code(rawValue: 5011))      // 5011 duplicate listener
    /// ```
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// libsrt's number; -1 for `SRT_EUNKNOWN`.
        public let rawValue: Int32

        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        init(_ value: SRT_ERRNO) {
            self.rawValue = value.rawValue
        }

        /// 1000: connection setup failed for a system reason.
        public static let connectionSetup = Code(SRT_ECONNSETUP)
        /// 1001: nobody answered the handshake (reject reason 16, timeout).
        public static let noServer = Code(SRT_ENOSERVER)
        /// 1002: the peer rejected the connection; see ``SRTError/rejectReason``.
        public static let connectionRejected = Code(SRT_ECONNREJ)
        /// 1003: a system call failed creating or binding the UDP socket; see ``SRTError/systemErrno``.
        public static let socketFailure = Code(SRT_ESOCKFAIL)
        /// 1004: the security handshake failed (wrong passphrase).
        public static let securityFailure = Code(SRT_ESECFAIL)
        /// 1005: the socket was closed while the call waited.
        public static let socketClosed = Code(SRT_ESCLOSED)
        /// 2000: connection failure.
        public static let connectionFailure = Code(SRT_ECONNFAIL)
        /// 2001: the connection was lost (broken by the peer or by a timeout).
        public static let connectionLost = Code(SRT_ECONNLOST)
        /// 2002: the socket is not connected.
        public static let noConnection = Code(SRT_ENOCONN)
        /// 3000: out of system resources.
        public static let resource = Code(SRT_ERESOURCE)
        /// 3001: libsrt could not start a thread.
        public static let thread = Code(SRT_ETHREAD)
        /// 3002: out of memory for buffers.
        public static let noBuffer = Code(SRT_ENOBUF)
        /// 3003: a system object (epoll) could not be created.
        public static let systemObject = Code(SRT_ESYSOBJ)
        /// 4000: file transfer failure (not used in live mode).
        public static let file = Code(SRT_EFILE)
        /// 5000: invalid operation (bind twice, ...).
        public static let invalidOperation = Code(SRT_EINVOP)
        /// 5001: the socket is already bound.
        public static let boundSocket = Code(SRT_EBOUNDSOCK)
        /// 5002: the socket is already connected.
        public static let connectedSocket = Code(SRT_ECONNSOCK)
        /// 5003: an invalid parameter (backlog 0, an option value out of range).
        public static let invalidParameter = Code(SRT_EINVPARAM)
        /// 5004: no such socket (closed and collected).
        public static let invalidSocket = Code(SRT_EINVSOCK)
        /// 5005: the socket is not bound (listen before bind).
        public static let unboundSocket = Code(SRT_EUNBOUNDSOCK)
        /// 5006: the socket is not listening (accept on a non-listener).
        public static let notListening = Code(SRT_ENOLISTEN)
        /// 5007: a rendezvous socket cannot listen.
        public static let rendezvousNoListen = Code(SRT_ERDVNOSERV)
        /// 5008: a rendezvous socket must be bound before connecting.
        public static let rendezvousUnbound = Code(SRT_ERDVUNBOUND)
        /// 5009: the message API is not available in this mode.
        public static let invalidMessageAPI = Code(SRT_EINVALMSGAPI)
        /// 5010: the buffer API is not available in this mode.
        public static let invalidBufferAPI = Code(SRT_EINVALBUFFERAPI)
        /// 5011: another listener already listens on this port.
        public static let duplicateListener = Code(SRT_EDUPLISTEN)
        /// 5012: the message is larger than the payload size.
        public static let messageTooLarge = Code(SRT_ELARGEMSG)
        /// 5013: no such epoll container.
        public static let invalidPollID = Code(SRT_EINVPOLLID)
        /// 5014: the epoll container has no sockets.
        public static let pollEmpty = Code(SRT_EPOLLEMPTY)
        /// 5015: the port is bound by an SRT socket with different settings.
        public static let bindConflict = Code(SRT_EBINDCONFLICT)
        /// 6000: the operation would block.
        public static let asyncFailure = Code(SRT_EASYNCFAIL)
        /// 6001: sending would block.
        public static let asyncSend = Code(SRT_EASYNCSND)
        /// 6002: receiving (or accepting) would block; from accept it also means "listener closed".
        public static let asyncReceive = Code(SRT_EASYNCRCV)
        /// 6003: a wait timed out.
        public static let timeout = Code(SRT_ETIMEOUT)
        /// 6004: congestion.
        public static let congestion = Code(SRT_ECONGEST)
        /// 7000: the peer reported an error.
        public static let peerError = Code(SRT_EPEERERR)
        /// -1: libsrt did not say.
        public static let unknown = Code(SRT_EUNKNOWN)

        /// Adapter condition, not a libsrt code: the UDP receive thread behind a listener died (it is deaf).
        public static let receiveThreadDied = Code(rawValue: 90_001)
        /// Adapter condition, not a libsrt code: the socket was closed by this process.
        public static let closedLocally = Code(rawValue: 90_002)
        /// Adapter condition, not a libsrt code: someone asked the listener to re-listen
        /// (``SRTServer/restartListener()``).
        public static let restartRequested = Code(rawValue: 90_003)
        /// Adapter condition, not a libsrt code: libsrt keeps more dead multiplexers than the server's
        /// ``SRTLeakLimit`` allows; the process should be restarted (``SRTServer/run()`` ends with it).
        public static let leakLimitExceeded = Code(rawValue: 90_004)

        public var description: String {
            switch self {
            case .receiveThreadDied: "receive thread died"
            case .closedLocally: "closed by this process"
            case .restartRequested: "restart requested"
            case .leakLimitExceeded: "too many leaked multiplexers"
            default: "\(rawValue)"
            }
        }
    }
}
