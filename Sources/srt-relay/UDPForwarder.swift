import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sends one stream's messages as UDP datagrams to a ``ForwardTarget``, one datagram per SRT message, from a
/// socket of its own. Non-blocking: a datagram the kernel cannot take at once is dropped and counted (live
/// streams prefer a loss to a stall).
final class UDPForwarder: StreamSink {
    let destination: String
    private let descriptor: Mutex<Int32>
    private let address: sockaddr_storage
    private let addressLength: socklen_t
    /// Datagrams dropped because the socket's buffer was full.
    let dropped = Atomic<Int>(0)

    init(to target: ForwardTarget) throws(SinkError) {
        destination = target.description
        var storage = sockaddr_storage()
        let family: Int32
        if target.host.contains(":") {
            family = AF_INET6
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(target.port).bigEndian
            _ = inet_pton(AF_INET6, target.host, &address.sin6_addr)
            withUnsafeBytes(of: address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            addressLength = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            family = AF_INET
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(target.port).bigEndian
            _ = inet_pton(AF_INET, target.host, &address.sin_addr)
            withUnsafeBytes(of: address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            addressLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        address = storage
        let created = socket(
            family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard created >= 0 else { throw SinkError(operation: "socket", errno: errno) }
        descriptor = Mutex(created)
    }

    deinit {
        closeSocket()
    }

    func write(_ message: [UInt8]) throws(SinkError) {
        try descriptor.withLock { socket throws(SinkError) in
            guard socket >= 0 else { return }
            var target = address
            let sent = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    message.withUnsafeBytes { sendto(socket, $0.baseAddress, $0.count, 0, address, addressLength) }
                }
            }
            guard sent < 0 else { return }
            switch errno {
            case EAGAIN, EWOULDBLOCK, ENOBUFS: dropped.add(1, ordering: .relaxed)
            // Nobody listens at the target (an ICMP port unreachable came back): UDP goes on regardless.
            case ECONNREFUSED: break
            default: throw SinkError(operation: "send to \(destination)", errno: errno)
            }
        }
    }

    /// Closes the socket at once: nothing is held, so there is nothing to wait for.
    func close(within limit: Duration) async throws(SinkError) {
        closeSocket()
    }

    private func closeSocket() {
        descriptor.withLock { socket in
            if socket >= 0 { POSIX.closeDescriptor(socket) }
            socket = -1
        }
    }
}
