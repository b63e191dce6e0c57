public import Supervisor

/// The AES key length for encryption (`SRTO_PBKEYLEN`): 16, 24 or 32 bytes.
///
/// ```swift
/// let key = SRTKeyLength.aes256
/// let parsed = try SRTKeyLength(bytes: 24)   // .aes192
/// ```
public struct SRTKeyLength: Hashable, Sendable, CustomStringConvertible {
    /// 16, 24 or 32.
    public let bytes: Int

    /// Validates `bytes` (16, 24 or 32).
    public init(bytes: Int) throws(ConfigurationError) {
        guard [16, 24, 32].contains(bytes) else {
            throw ConfigurationError(.outOfRange, option: "keyLength", "must be 16, 24 or 32 bytes, got \(bytes)")
        }
        self.bytes = bytes
    }

    private init(valid bytes: Int) {
        self.bytes = bytes
    }

    /// AES-128, libsrt's default.
    public static let aes128 = SRTKeyLength(valid: 16)
    public static let aes192 = SRTKeyLength(valid: 24)
    public static let aes256 = SRTKeyLength(valid: 32)

    public var description: String {
        "AES-\(bytes * 8)"
    }
}
