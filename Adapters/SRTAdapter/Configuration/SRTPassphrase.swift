public import Supervisor

/// An SRT encryption passphrase, 10 to 79 bytes without NUL, that never appears in logs, descriptions, dumps or
/// errors.
///
/// ```swift
/// let passphrase = try SRTPassphrase("correct horse battery")
/// print(passphrase)        // <passphrase, 21 bytes>
/// try SRTPassphrase("short")  // ConfigurationError: passphrase: must be 10 to 79 bytes, got 5
/// ```
public struct SRTPassphrase: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The secret itself; internal, read only where it is handed to libsrt.
    let secret: String

    /// Validates the length libsrt accepts (`SRTO_PASSPHRASE`: 10 to 79 bytes), and that no NUL byte would cut it
    /// short.
    public init(_ secret: String) throws(ConfigurationError) {
        let length = secret.utf8.count
        guard (10...79).contains(length) else {
            // The length only: the value itself must never be printed.
            throw ConfigurationError(.outOfRange, option: "passphrase", "must be 10 to 79 bytes, got \(length)")
        }
        // libsrt takes the secret as C text in places: a NUL would end it early, and ten of them would leave none.
        guard !secret.utf8.contains(0) else {
            throw ConfigurationError(.outOfRange, option: "passphrase", "must not contain a NUL byte")
        }
        self.secret = secret
    }

    public var description: String {
        "<passphrase, \(secret.utf8.count) bytes>"
    }

    public var debugDescription: String {
        description
    }

    /// Hides the secret from `dump` and mirrors.
    public var customMirror: Mirror {
        Mirror(self, children: [])
    }
}
