#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Splits `--listen`'s value into a host and a port: `HOST:PORT`, `[IPv6]:PORT`, a bare host (IPv4 or IPv6) or a
/// bare port. Numeric validation is ``SRTAdapter/SRTAddress``'s job.
///
/// ```swift
/// try ListenAddress.split("[::1]:9000", defaultPort: 9000)  // ("::1", 9000)
/// try ListenAddress.split("9001", defaultPort: 9000)        // ("0.0.0.0", 9001)
/// ```
enum ListenAddress {
    /// Returns the host and port, or throws a message for a value that is neither.
    static func split(_ text: String, defaultHost: String = "0.0.0.0", defaultPort: Int) throws(ParseFailure) -> (
        host: String, port: Int
    ) {
        if text.isEmpty { throw ParseFailure("empty address") }
        if let port = Int(text) { return (defaultHost, port) }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ParseFailure("missing ] in \"\(text)\"") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, defaultPort) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else {
                throw ParseFailure("expected [IPv6]:PORT, got \"\(text)\"")
            }
            return (host, port)
        }
        let colons = text.filter { $0 == ":" }.count
        // Two or more colons without brackets: a bare IPv6 address.
        if colons != 1 { return (text, defaultPort) }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let port = Int(parts[1]) else { throw ParseFailure("expected HOST:PORT, got \"\(text)\"") }
        return (parts[0].isEmpty ? defaultHost : String(parts[0]), port)
    }
}

extension ListenAddress {
    /// Whether `host` (numeric) is a loopback address: `127.0.0.0/8`, `::1`, or `::ffff:127.x.x.x`. Wildcards
    /// (`0.0.0.0`, `::`) and every other address can be reached from other machines.
    ///
    /// ```swift
    /// ListenAddress.isLoopback("127.0.0.2")   // true
    /// ListenAddress.isLoopback("0.0.0.0")     // false
    /// ```
    static func isLoopback(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        // An IPv4-mapped address: ten zero bytes, two 0xFF, then the IPv4 address.
        return bytes[..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }
}

/// A value the command line could not read; its text is the whole message.
struct ParseFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
