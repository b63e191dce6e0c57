#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Fault B (`Docs/libsrt-failure-modes.md`, "How the tests inject faults"), from inside the process: `dup2` of
/// /dev/null over the UDP socket bound to the listener's port, so libsrt's receive thread gets ENOTSOCK from its next
/// `recvmsg` and dies, the way it dies on ENETUNREACH in production.
///
/// The adapter owns that descriptor privately; the relay finds it as `Docs/libsrt-failure-modes.md` §3 describes, by
/// scanning `/proc/self/fd` for a datagram socket whose local port is the listener's.
enum FaultInjector {
    /// Replaces every UDP socket of this process bound to `port` with /dev/null; returns their descriptors.
    static func killReceiveThread(port: Int) -> [Int32] {
        let victims = udpDescriptors(boundTo: port)
        guard !victims.isEmpty else { return [] }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { return [] }
        defer { close(null) }
        return victims.filter { dup2(null, $0) >= 0 }
    }

    /// The descriptors of this process that are datagram sockets bound to `port` (IPv4 or IPv6).
    static func udpDescriptors(boundTo port: Int) -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var names: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let descriptor = Int32(name) { names.append(descriptor) }
        }
        return names.filter { isDatagramSocket($0) && localPort(of: $0) == port }
    }

    private static func isDatagramSocket(_ descriptor: Int32) -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return false }
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else { return false }
        return type == Int32(SOCK_DGRAM.rawValue)
    }

    private static func localPort(of descriptor: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: storage) { Int(UInt16(bigEndian: $0.load(as: sockaddr_in.self).sin_port)) }
        case AF_INET6:
            return withUnsafeBytes(of: storage) { Int(UInt16(bigEndian: $0.load(as: sockaddr_in6.self).sin6_port)) }
        default:
            return nil
        }
    }
}
