public import Supervisor

/// A reject reason an access control may send: libsrt's predefined codes (1000...1999, HTTP-like from 1400) or
/// application codes (2000...2998). 2999 is reserved: it marks the adapter's own self-probe.
///
/// ```swift
/// SRTRejectReason.forbidden.code   // 1403
/// try SRTRejectReason(code: 2_001)
/// ```
public struct SRTRejectReason: Sendable, Hashable, CustomStringConvertible {
    /// The number the caller reads with `srt_getrejectreason`.
    public let code: Int32

    /// Validates `code`: 1000...1999 or 2000...2998.
    public init(code: Int32) throws(ConfigurationError) {
        guard (1000...2998).contains(code) else {
            throw ConfigurationError(
                .outOfRange, option: "rejectReason",
                "must be 1000 to 2998 (2999 is the adapter's probe), got \(code)")
        }
        self.code = code
    }

    private init(valid code: Int32) {
        self.code = code
    }

    /// 1400: the stream id is malformed.
    public static let badRequest = SRTRejectReason(valid: 1400)
    /// 1401: the caller failed to authenticate.
    public static let unauthorized = SRTRejectReason(valid: 1401)
    /// 1402: the server is overloaded (the adapter uses it when `maxConnections` is reached).
    public static let overload = SRTRejectReason(valid: 1402)
    /// 1403: access denied.
    public static let forbidden = SRTRejectReason(valid: 1403)
    /// 1404: no such resource.
    public static let notFound = SRTRejectReason(valid: 1404)
    /// 1409: the resource is in use (already published).
    public static let conflict = SRTRejectReason(valid: 1409)
    /// 1503: the service is down.
    public static let unavailable = SRTRejectReason(valid: 1503)

    /// The adapter's private code for its self-probe; no access control can send it.
    static let probe = SRTRejectReason(valid: 2999)

    public var description: String {
        "\(code)"
    }
}
