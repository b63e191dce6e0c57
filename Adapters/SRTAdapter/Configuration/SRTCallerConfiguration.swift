public import Supervisor

/// How to connect to a listener, validated at construction.
///
/// ```swift
/// let caller = try SRTCallerConfiguration(host: "127.0.0.1", port: 9000, streamID: "publish/cam1")
/// let connection = try await SRTConnection.connect(caller)
/// ```
public struct SRTCallerConfiguration: Sendable, CustomStringConvertible {
    /// The listener to connect to.
    public let address: SRTAddress
    /// Sent in the handshake (`SRTO_STREAMID`), at most 512 bytes.
    public let streamID: String
    /// The receive latency and the latency asked of the peer.
    public let latency: Duration
    /// Encryption; `nil` for none.
    public let passphrase: SRTPassphrase?
    /// The AES key length, used with a passphrase.
    public let keyLength: SRTKeyLength
    /// Refuse a peer whose encryption does not match.
    public let enforcedEncryption: Bool
    /// The largest message payload (`SRTO_PAYLOADSIZE`), 1...1456, 1316 by default.
    public let payloadSize: Int
    /// How long the handshake may take (`SRTO_CONNTIMEO`), 1 ms to 5 min; then the connect fails with 1001.
    public let connectTimeout: Duration
    /// The local address to send from; `nil` lets the kernel choose. Callers bound to the same address and port
    /// share one UDP socket and one pair of libsrt threads.
    public let bindAddress: SRTAddress?

    /// Validates every value.
    public init(
        host: String,
        port: Int,
        streamID: String = "",
        latency: Duration = .milliseconds(120),
        passphrase: SRTPassphrase? = nil,
        keyLength: SRTKeyLength = .aes128,
        enforcedEncryption: Bool = true,
        payloadSize: Int = 1316,
        connectTimeout: Duration = .seconds(3),
        bindAddress: SRTAddress? = nil
    ) throws(ConfigurationError) {
        self.address = try SRTAddress(host: host, port: port)
        guard streamID.utf8.count <= 512, !streamID.contains("\0") else {
            throw ConfigurationError(
                .outOfRange, option: "streamID", "must be at most 512 bytes without NUL, got \(streamID.utf8.count)")
        }
        self.streamID = streamID
        self.latency = try SRTListenerConfiguration.validLatency(latency)
        self.payloadSize = try SRTListenerConfiguration.validPayloadSize(payloadSize)
        guard connectTimeout >= .milliseconds(1), connectTimeout <= .seconds(300) else {
            throw ConfigurationError(
                .outOfRange, option: "connectTimeout", "must be 1 ms to 300 s, got \(connectTimeout)")
        }
        self.connectTimeout = connectTimeout
        self.bindAddress = bindAddress
        self.passphrase = passphrase
        self.keyLength = keyLength
        self.enforcedEncryption = enforcedEncryption
    }

    public var description: String {
        var text = "SRT caller to \(address), stream id \"\(streamID)\", latency \(latency)"
        if let passphrase { text += ", \(keyLength) with \(passphrase)" }
        return text
    }
}
