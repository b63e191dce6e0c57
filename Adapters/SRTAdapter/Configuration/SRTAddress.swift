import CSRT
public import Supervisor

/// A numeric IPv4 or IPv6 address and a UDP port, validated at construction.
///
/// ```swift
/// let local = try SRTAddress(host: "127.0.0.1", port: 9000)
/// let v6 = try SRTAddress(host: "::1", port: 0)   // port 0: the kernel picks one
/// print(v6)                                        // [::1]:0
/// ```
///
/// Host names are refused on purpose: resolving them blocks, and a listener must know exactly which address it
/// waits for (`Docs/libsrt-failure-modes.md §7`).
public struct SRTAddress: Hashable, Sendable, CustomStringConvertible {
    /// The numeric host, as given (`127.0.0.1`, `::1`, `0.0.0.0`, `::`).
    public let host: String
    /// The UDP port, 0 to 65535; 0 asks the kernel for one.
    public let port: Int

    /// Validates `host` (numeric IPv4 or IPv6) and `port` (0...65535).
    public init(host: String, port: Int) throws(ConfigurationError) {
        guard (0...65_535).contains(port) else {
            throw ConfigurationError(.outOfRange, option: "port", "must be 0 to 65535, got \(port)")
        }
        var storage = sockaddr_storage()
        guard !host.contains("\0"), csrt_make_address(host, Int32(port), &storage) > 0 else {
            throw ConfigurationError(
                .outOfRange, option: "host", "must be a numeric IPv4 or IPv6 address, got \"\(host)\"")
        }
        self.host = host
        self.port = port
    }

    /// An address known to be valid (read back from the kernel or libsrt).
    init(validHost host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Whether the host is an IPv6 address.
    public var isIPv6: Bool {
        host.contains(":")
    }

    /// The same host with another port.
    func with(port: Int) -> SRTAddress {
        SRTAddress(validHost: host, port: port)
    }

    /// The loopback address of the same family when this one is a wildcard (a probe cannot connect to `0.0.0.0`).
    var connectable: SRTAddress {
        switch host {
        case "0.0.0.0": SRTAddress(validHost: "127.0.0.1", port: port)
        case "::", "::0": SRTAddress(validHost: "::1", port: port)
        default: self
        }
    }

    /// Calls `body` with the C form of the address.
    func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, Int32) throws -> R) rethrows -> R {
        var storage = sockaddr_storage()
        let length = csrt_make_address(host, Int32(port), &storage)
        return try withUnsafePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }

    /// Reads a C address (from libsrt's listen callback or `srt_accept`).
    init?(_ address: UnsafePointer<sockaddr>) {
        var host = [CChar](repeating: 0, count: 64)
        let port = csrt_describe_address(address, &host, Int32(host.count))
        guard port >= 0 else { return nil }
        self.init(
            validHost: String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            port: Int(port))
    }

    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
