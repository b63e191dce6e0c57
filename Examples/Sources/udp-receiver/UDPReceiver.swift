// The complete adapter of Docs/writing-an-adapter.md: a supervised plain POSIX UDP receiver, written with the
// public API only. The udp-receiver example runs it; the test target compiles this same file (a symbolic link,
// Tests/SupervisorTests/Documentation/UDPReceiver.swift) and WritingAnAdapterTests exercises it.
import Glibc
import Supervisor

/// A POSIX call failed; classifies itself by errno.
struct SocketError: ClassifiableError, CustomStringConvertible {
    let operation: String
    let errno: Int32

    var failureDecision: FailureDecision? {
        switch errno {
        case EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, ENOBUFS, EMFILE, ENFILE, EINTR: .restart
        case EACCES, EPERM, EINVAL, EAFNOSUPPORT: .giveUp
        default: nil  // no opinion: the supervisor's classifier decides (restart by default)
        }
    }

    var description: String { "\(operation): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Receives datagrams on 127.0.0.1:`port` and hands each one to `handle`.
struct UDPReceiver: Restartable {
    let port: UInt16
    let handle: @Sendable ([UInt8]) -> Void

    func start() async throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let error = SocketError(operation: "bind", errno: errno)
            close(fd)
            throw error
        }
        return fd
    }

    func run(_ fd: Int32) async throws {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !Task.isCancelled {
            // Wait at most 50 ms at a time, so cancellation is noticed promptly.
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 50)
            if ready < 0, errno != EINTR { throw SocketError(operation: "poll", errno: errno) }
            if ready > 0 {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count >= 0 else { throw SocketError(operation: "recv", errno: errno) }
                handle(Array(buffer[..<count]))
            }
            await Task.yield()
        }
    }

    func stop(_ fd: Int32) async {
        close(fd)
    }
}
