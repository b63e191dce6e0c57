import SRTAdapter

/// Where `--forward` relays to: `udp://HOST:PORT` with a numeric IPv4 or IPv6 host and a port 1...65535.
///
/// ```swift
/// let target = try ForwardTarget(parsing: "udp://127.0.0.1:5000")
/// let v6 = try ForwardTarget(parsing: "udp://[::1]:5000")
/// ```
struct ForwardTarget: Sendable, Hashable, CustomStringConvertible {
    let host: String
    let port: Int

    /// Validates the scheme, the host (numeric, no name lookup: the relay must not block on DNS) and the port.
    init(parsing url: String) throws(ParseFailure) {
        let scheme = "udp://"
        guard url.lowercased().hasPrefix(scheme) else {
            throw ParseFailure("expected udp://HOST:PORT, got \"\(url)\"")
        }
        let rest = String(url.dropFirst(scheme.count))
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("@") else {
            throw ParseFailure("expected udp://HOST:PORT with nothing after the port, got \"\(url)\"")
        }
        let (host, port) = try ListenAddress.split(rest, defaultHost: "", defaultPort: -1)
        guard !host.isEmpty, port != -1, Int(rest) == nil else {
            throw ParseFailure("expected udp://HOST:PORT with both host and port, got \"\(url)\"")
        }
        guard (1...65_535).contains(port) else {
            throw ParseFailure("the port must be 1 to 65535, got \(port)")
        }
        // SRTAddress validates a numeric IPv4/IPv6 host with the same parser the sockets use.
        guard (try? SRTAddress(host: host, port: port)) != nil else {
            throw ParseFailure("the host must be a numeric IPv4 or IPv6 address, got \"\(host)\"")
        }
        self.host = host
        self.port = port
    }

    var description: String {
        host.contains(":") ? "udp://[\(host)]:\(port)" : "udp://\(host):\(port)"
    }
}
