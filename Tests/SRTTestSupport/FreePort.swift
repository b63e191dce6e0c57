import Foundation

/// Ports for servers under test, so that tests running at once never share one and a port held by something else can
/// never make a test talk to the wrong peer.
///
/// Chosen below the kernel's ephemeral range (`ip_local_port_range`, 32768–60999 by default): every caller socket a
/// test opens takes an ephemeral port, and a server port taken from that range could be handed to a caller between
/// the choice and the server's bind (a relay that then cannot listen, or a check that finds the caller's socket
/// bound and takes it for the server's). A port is tried with a bind first; the kernel's choice is the fallback.
public enum FreePort {
    /// The ports chosen from: above the well-known and registered ones most services use, below the ephemeral range.
    static let range = 20_000..<32_000

    /// A port on 127.0.0.1 that was free a moment ago, outside the ephemeral range. UDP unless `type` says otherwise
    /// (`SOCK_STREAM` for an HTTP port).
    public static func loopback(type: Int32? = nil) throws -> Int {
        let type = type ?? Int32(SOCK_DGRAM.rawValue)
        var generator = SystemRandomNumberGenerator()
        // Bounded: a busy range falls back to the kernel's choice.
        for _ in 0..<200 {
            let port = Int.random(in: range, using: &generator)
            if (try? bind(port: port, type: type)) == port { return port }
        }
        return try bind(port: 0, type: type)
    }

    /// Binds 127.0.0.1:`port` (0: the kernel chooses), reads the port back and releases it.
    static func bind(port: Int, type: Int32) throws -> Int {
        let socket = Foundation.socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
