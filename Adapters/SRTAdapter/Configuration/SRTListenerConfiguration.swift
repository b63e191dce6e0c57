public import Supervisor

/// Everything a listener needs, validated at construction: a bad value throws a `ConfigurationError` naming the
/// option, never a libsrt error at bind time, and never a trap.
///
/// ```swift
/// let configuration = try SRTListenerConfiguration(
///     host: "0.0.0.0", port: 9000,
///     latency: .milliseconds(120),
///     passphrase: try SRTPassphrase("a long enough secret"), keyLength: .aes256,
///     maxConnections: 64,
///     accessControl: SRTAccessControl { $0.streamID.isEmpty ? .reject(.badRequest) : .accept })
/// print(configuration)  // the passphrase shows as <passphrase, 20 bytes>
/// ```
///
/// Buffers are libsrt's defaults, a receive buffer of 8,192 packets (10.8 MB of 1316-byte payloads: a 500 Mbit/s
/// stream at 120 ms of latency fills 5,700 of them), except the flow window (`SRTO_FC`), which the adapter sizes to
/// that buffer rather than libsrt's 25,600: the acknowledgements hold a sender to the buffer's free space anyway, and
/// the larger window costs about 270 KiB more per connection (750 against 485 KiB measured). Accepted connections
/// inherit both.
public struct SRTListenerConfiguration: Sendable, CustomStringConvertible {
    /// Where to listen; port 0 lets the kernel choose (read it back from ``SRTListenSocket/localAddress``).
    public private(set) var address: SRTAddress
    /// The receive latency (`SRTO_RCVLATENCY`) and the latency asked of peers (`SRTO_PEERLATENCY`).
    public let latency: Duration
    /// Encryption; `nil` for none.
    public let passphrase: SRTPassphrase?
    /// The AES key length, used with a passphrase.
    public let keyLength: SRTKeyLength
    /// Reject callers whose encryption does not match (`SRTO_ENFORCEDENCRYPTION`, libsrt's default: on).
    public let enforcedEncryption: Bool
    /// The largest message payload, `SRTO_PAYLOADSIZE`: 1316 (7 MPEG-TS packets) by default, at most 1456.
    public let payloadSize: Int
    /// How many handshakes may wait for `accept` (`srt_listen` backlog).
    public let backlog: Int
    /// Callers beyond this many open connections are rejected with ``SRTRejectReason/overload``. Counted across
    /// restarts: the connections accepted before a restart keep counting while they stay open on the port.
    public let maxConnections: Int
    /// How many handshakes from one source address (its host, any port) may wait between the listen callback and
    /// `accept` at once; more from that host are rejected with ``SRTRejectReason/overload``, so that one host
    /// cannot fill ``maxConnections`` with handshakes. The default, 4, lets a host's burst of reconnects in (the
    /// accept loop takes each within milliseconds) and keeps a flooding host to 4 slots.
    public let maxPendingPerAddress: Int
    /// Per-caller decision on the stream id; `nil` accepts everyone.
    public let accessControl: SRTAccessControl?

    /// Validates every value.
    ///
    /// - Throws: `ConfigurationError` for a host that is not a numeric IPv4/IPv6 address, a port outside
    ///   0...65535, a latency outside 0...60 s, a payload size outside 1...1456, a backlog outside 1...4096, a
    ///   connection cap outside 1...100000, a per-address share of pending handshakes outside 1...100000, or a
    ///   passphrase/key length libsrt refuses.
    public init(
        host: String,
        port: Int,
        latency: Duration = .milliseconds(120),
        passphrase: SRTPassphrase? = nil,
        keyLength: SRTKeyLength = .aes128,
        enforcedEncryption: Bool = true,
        payloadSize: Int = 1316,
        backlog: Int = 64,
        maxConnections: Int = 1024,
        maxPendingPerAddress: Int = 4,
        accessControl: SRTAccessControl? = nil
    ) throws(ConfigurationError) {
        self.address = try SRTAddress(host: host, port: port)
        self.latency = try Self.validLatency(latency)
        self.payloadSize = try Self.validPayloadSize(payloadSize)
        guard (1...4096).contains(backlog) else {
            throw ConfigurationError(.outOfRange, option: "backlog", "must be 1 to 4096, got \(backlog)")
        }
        guard (1...100_000).contains(maxConnections) else {
            throw ConfigurationError(
                .outOfRange, option: "maxConnections", "must be 1 to 100000, got \(maxConnections)")
        }
        guard (1...100_000).contains(maxPendingPerAddress) else {
            throw ConfigurationError(
                .outOfRange, option: "maxPendingPerAddress", "must be 1 to 100000, got \(maxPendingPerAddress)")
        }
        self.maxPendingPerAddress = maxPendingPerAddress
        self.passphrase = passphrase
        self.keyLength = keyLength
        self.enforcedEncryption = enforcedEncryption
        self.backlog = backlog
        self.maxConnections = maxConnections
        self.accessControl = accessControl
    }

    /// The same configuration on another port (a supervised listener keeps the port the kernel chose first).
    func with(port: Int) -> SRTListenerConfiguration {
        var copy = self
        copy.address = address.with(port: port)
        return copy
    }

    static func validLatency(_ latency: Duration) throws(ConfigurationError) -> Duration {
        guard latency >= .zero, latency <= .seconds(60) else {
            throw ConfigurationError(.outOfRange, option: "latency", "must be 0 to 60 s, got \(latency)")
        }
        return latency
    }

    static func validPayloadSize(_ size: Int) throws(ConfigurationError) -> Int {
        // 1456 is libsrt's live-mode maximum (SRT_LIVE_MAX_PLSIZE).
        guard (1...1456).contains(size) else {
            throw ConfigurationError(.outOfRange, option: "payloadSize", "must be 1 to 1456 bytes, got \(size)")
        }
        return size
    }

    public var description: String {
        var text = "SRT listener \(address), latency \(latency), payload \(payloadSize) B, backlog \(backlog)"
        text += ", max \(maxConnections) connections, \(maxPendingPerAddress) pending per address"
        if let passphrase { text += ", \(keyLength) with \(passphrase)" }
        if !enforcedEncryption { text += ", encryption not enforced" }
        return text
    }
}
