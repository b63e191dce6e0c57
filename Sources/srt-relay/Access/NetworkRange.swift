#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`, or one address), matched against a
/// caller's address. An IPv4 address that reaches a dual-stack listener as `::ffff:192.0.2.7` matches IPv4 networks.
///
/// ```swift
/// let office = try NetworkRange(parsing: "192.0.2.0/24")
/// office.contains("192.0.2.7")     // true
/// office.contains("198.51.100.1")  // false
/// ```
struct NetworkRange: Hashable, Sendable, CustomStringConvertible {
    /// The network's address bytes (4 or 16), its host bits cleared.
    let address: [UInt8]
    let prefixLength: Int

    init(parsing text: String) throws(ParseFailure) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.bytes(of: String(parts[0])) else {
            throw ParseFailure("\"\(text)\" is not an IPv4 or IPv6 network (such as 192.0.2.0/24 or 2001:db8::/32)")
        }
        let bits = address.count * 8
        var length = bits
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...bits).contains(parsed), parts[1].allSatisfy(\.isASCII) else {
                throw ParseFailure("\"\(text)\": the prefix length must be 0 to \(bits)")
            }
            length = parsed
        }
        self.prefixLength = length
        self.address = Self.masked(address, to: length)
    }

    /// Whether `host` (a numeric address, as libsrt reports a caller's) is inside this network.
    func contains(_ host: String) -> Bool {
        guard var bytes = Self.bytes(of: host) else { return false }
        // An IPv4 caller on a dual-stack listener: ::ffff:a.b.c.d.
        if address.count == 4, bytes.count == 16, bytes[..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            bytes = Array(bytes[12...])
        }
        return bytes.count == address.count && Self.masked(bytes, to: prefixLength) == address
    }

    var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        address.withUnsafeBytes { raw in
            _ = inet_ntop(address.count == 4 ? AF_INET : AF_INET6, raw.baseAddress, &text, socklen_t(text.count))
        }
        let shown = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return "\(String(decoding: shown, as: UTF8.self))/\(prefixLength)"
    }

    private static func bytes(of host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = min(8, max(0, length - index * 8))
            return kept == 8 ? byte : byte & ~(0xFF >> kept)
        }
    }
}
