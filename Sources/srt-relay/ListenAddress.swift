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

/// A value the command line could not read; its text is the whole message.
struct ParseFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
