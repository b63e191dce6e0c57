// A supervised UDP receiver on 127.0.0.1:<port>: prints the size of every datagram. If binding fails because the
// port is taken, it backs off and tries again until the port is free; a permission error ends the program.
import Foundation
import Logging
import ServiceLifecycle
import Supervisor

/// A POSIX call failed; classifies itself by errno, so the default classifier restarts or gives up correctly.
struct SocketError: ClassifiableError, CustomStringConvertible {
    let operation: String
    let errno: Int32

    var failureDecision: FailureDecision? {
        switch errno {
        case EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENOBUFS, EMFILE, ENFILE, EINTR: .restart
        case EACCES, EPERM, EINVAL: .giveUp
        default: nil  // no opinion: the policy's classifier decides (restart by default)
        }
    }

    var description: String { "\(operation): \(String(cString: strerror(errno)))" }
}

/// One bound socket per instance: `start` binds, `run` reads until cancelled, `stop` closes.
struct UDPReceiver: Restartable {
    let port: UInt16

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
            // Waits at most 100 ms at a time, so that cancellation is noticed promptly.
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready < 0, errno != EINTR { throw SocketError(operation: "poll", errno: errno) }
            if ready > 0 {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count >= 0 else { throw SocketError(operation: "recv", errno: errno) }
                print("\(count) bytes")
            }
            await Task.yield()
        }
    }

    func stop(_ fd: Int32) async { close(fd) }
}

let port = CommandLine.arguments.dropFirst().first.flatMap(UInt16.init) ?? 9000
let logger = Logger(label: "udp-receiver")
let supervisor = ResourceSupervisor(
    UDPReceiver(port: port), name: "udp-receiver",
    policy: try RestartPolicy(backoff: .exponential(maximum: .seconds(5)).jitter(.full)), logger: logger)
let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()
