import CSRT

extension SRTConnection {
    /// Waits, without reading a message and without a thread, until the connection ends, and says how: the peer
    /// broke it or went silent (``SRTError/Code/connectionLost``, 2001), or this process closed it
    /// (``SRTError/Code/closedLocally``). Throws `CancellationError` when the task is cancelled.
    ///
    /// The wait is on the reactor's error interest, so a connection that carries data costs nothing here: the
    /// application may receive and send meanwhile. A peer that vanished without a word (killed, or its listener's
    /// UDP socket retired) is declared broken by libsrt's peer-idle timer, about 5 s after the last packet heard
    /// (in libsrt 1.5.1 at least 16 expirations of the 300 ms EXP timer, whatever `SRTO_PEERIDLETIMEO` says below).
    ///
    /// ```swift
    /// let end = try await connection.ended()
    /// print(end)   // watch (connection) failed: SRT 2001 (the connection to 127.0.0.1:9000 broke, state BROKEN)
    /// ```
    /// - Parameter peer: named in the error; a caller knows where it connected to.
    func ended(peer: SRTAddress? = nil) async throws -> SRTError {
        while true {
            if isClosed {
                return SRTError(code: .closedLocally, operation: .watch, message: "the connection was closed")
            }
            // srt_getsockstate waits on libsrt's global lock: read on the control thread.
            let socket = self.socket
            let state = await SRTControlThread.shared.run { SRTSocketState(srt_getsockstate(socket)) }
            if state.isClosedOrBroken {
                let peer = (peer ?? peerAddress).map { "\($0)" } ?? "the peer"
                return SRTError(
                    code: .connectionLost, operation: .watch,
                    message: "the connection to \(peer) broke, state \(state)", socketState: state)
            }
            try await reactor.wait(for: .error, on: socket)
        }
    }
}

extension SRTError.Operation {
    /// Watching an established connection for its end (``SRTConnector``'s run).
    public static let watch = SRTError.Operation("watch (connection)")
}
