import CSRT

/// Sets libsrt options on a socket and turns a refusal into an ``SRTError`` naming the option.
struct SRTSocketOptions {
    let socket: SRTSOCKET

    func set(_ option: SRT_SOCKOPT, _ value: Int32, _ name: String) throws(SRTError) {
        if csrt_set_int(socket, option, value) == SRT_ERROR { throw failure(name) }
    }

    func set(_ option: SRT_SOCKOPT, _ value: Bool, _ name: String) throws(SRTError) {
        if csrt_set_bool(socket, option, value ? 1 : 0) == SRT_ERROR { throw failure(name) }
    }

    func set(_ option: SRT_SOCKOPT, _ value: String, _ name: String) throws(SRTError) {
        let result = value.withCString { csrt_set_string(socket, option, $0, Int32(value.utf8.count)) }
        if result == SRT_ERROR { throw failure(name) }
    }

    /// Non-blocking in both directions: every wait goes through the reactor.
    func setNonBlocking() throws(SRTError) {
        try set(SRTO_RCVSYN, false, "SRTO_RCVSYN")
        try set(SRTO_SNDSYN, false, "SRTO_SNDSYN")
    }

    /// The flow window (`SRTO_FC`: how many unacknowledged packets the peer may send) at the receive buffer's size
    /// in packets, as libsrt's configuration guidelines size it; a pre-bind/pre-connect option, inherited by the
    /// connections a listener accepts.
    ///
    /// libsrt's default window (25,600) is three times its default receive buffer (8,192 packets), yet the handshake
    /// advertises the smaller of the two and every ACK holds the peer to the buffer's free space, so the excess never
    /// carries a packet. What it costs is memory: the receiver loss list has one 16-byte entry per packet of this
    /// window, allocated and filled on the receive thread for every connection (400 KiB at libsrt's window, 128 KiB
    /// at this one; Docs/benchmarks.md measures 750 against 485 KiB per connection in all).
    ///
    /// libsrt caps the receive buffer at this window: an option that raises the buffer must raise the window first.
    func setFlowWindowToReceiveBuffer() throws(SRTError) {
        var bufferBytes: Int32 = 0
        var segmentSize: Int32 = 0
        // libsrt reports the buffer in bytes: its packets times (MSS - 28, the IPv4 and UDP headers).
        guard csrt_get_int(socket, SRTO_RCVBUF, &bufferBytes) == 0, csrt_get_int(socket, SRTO_MSS, &segmentSize) == 0,
            segmentSize > 28
        else { throw failure("SRTO_RCVBUF") }
        try set(SRTO_FC, max(32, bufferBytes / (segmentSize - 28)), "SRTO_FC")
    }

    /// Live mode, latency, payload size, flow window and encryption; all are pre-bind/pre-connect options.
    func setCommon(
        latency: Duration, payloadSize: Int, passphrase: SRTPassphrase?, keyLength: SRTKeyLength,
        enforcedEncryption: Bool
    ) throws(SRTError) {
        try set(SRTO_TRANSTYPE, Int32(SRTT_LIVE.rawValue), "SRTO_TRANSTYPE")
        let milliseconds = Int32(clamping: latency.wholeMilliseconds)
        try set(SRTO_RCVLATENCY, milliseconds, "SRTO_RCVLATENCY")
        try set(SRTO_PEERLATENCY, milliseconds, "SRTO_PEERLATENCY")
        try set(SRTO_PAYLOADSIZE, Int32(payloadSize), "SRTO_PAYLOADSIZE")
        try setFlowWindowToReceiveBuffer()
        try set(SRTO_ENFORCEDENCRYPTION, enforcedEncryption, "SRTO_ENFORCEDENCRYPTION")
        if let passphrase {
            try set(SRTO_PBKEYLEN, Int32(keyLength.bytes), "SRTO_PBKEYLEN")
            do {
                try set(SRTO_PASSPHRASE, passphrase.secret, "SRTO_PASSPHRASE")
            } catch {
                // libsrt's message could not contain the secret, but say nothing more than the option anyway.
                throw SRTError(code: error.code, operation: .setOption, message: "SRTO_PASSPHRASE refused")
            }
        }
    }

    private func failure(_ name: String) -> SRTError {
        let error = SRTError.last(.setOption)
        return SRTError(
            code: error.code, systemErrno: error.systemErrno, operation: .setOption,
            message: "\(name): \(error.message)")
    }
}
