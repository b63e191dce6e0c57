extension SRTError {
    /// The libsrt call or adapter step that failed, as a struct with static members so that more can be added.
    ///
    /// ```swift
    /// if error.operation == .bind { … }
    /// print(SRTError.Operation.listen)  // srt_listen
    /// ```
    public struct Operation: Hashable, Sendable, CustomStringConvertible {
        /// The name printed in messages: the libsrt function, or the adapter step.
        public let name: String

        /// An operation named `name`.
        public init(_ name: String) {
            self.name = name
        }

        public static let startup = Operation("srt_startup")
        public static let createSocket = Operation("srt_create_socket")
        public static let setOption = Operation("srt_setsockflag")
        public static let getOption = Operation("srt_getsockflag")
        /// Creating or binding the UDP socket the adapter owns (before `srt_bind_acquire`).
        public static let udpBind = Operation("bind (UDP socket)")
        public static let bind = Operation("srt_bind")
        public static let bindAcquire = Operation("srt_bind_acquire")
        public static let listen = Operation("srt_listen")
        public static let listenCallback = Operation("srt_listen_callback")
        public static let accept = Operation("srt_accept")
        public static let connect = Operation("srt_connect")
        public static let send = Operation("srt_sendmsg2")
        public static let receive = Operation("srt_recvmsg2")
        public static let statistics = Operation("srt_bstats")
        public static let peerName = Operation("srt_getpeername")
        public static let close = Operation("srt_close")
        public static let epoll = Operation("srt_epoll")
        /// Starting the adapter's reactor thread (`pthread_create`).
        public static let reactorThread = Operation("reactor thread")
        /// The self-probe of a listener (a connect with the reserved stream id).
        public static let probe = Operation("self-probe")
        /// Retiring a dead UDP socket (`dup2` of /dev/null over it).
        public static let retire = Operation("retire (dup2 /dev/null)")
        /// Checking libsrt's leaked multiplexers against an ``SRTLeakLimit``.
        public static let leakLimit = Operation("leaked-multiplexer limit")

        public var description: String {
            name
        }
    }
}
