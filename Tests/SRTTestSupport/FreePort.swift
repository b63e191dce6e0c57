import Foundation

/// Ports the kernel chose, so that tests running at once never share one and a port held by something else can
/// never make a test talk to the wrong peer.
public enum FreePort {
    /// A port on 127.0.0.1 that was free a moment ago: bound with port 0, read back, released. UDP unless `type`
    /// says otherwise (`SOCK_STREAM` for an HTTP port).
    public static func loopback(type: Int32? = nil) throws -> Int {
        let type = type ?? Int32(SOCK_DGRAM.rawValue)
        let socket = Foundation.socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
