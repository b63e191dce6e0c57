import Foundation
import SwiftOverlayShims  // defines timeval's members for MemberImportVisibility, whatever the file batching
import Synchronization

/// A UDP socket on 127.0.0.1 that collects every datagram it receives, on a thread of its own, until closed.
/// Close-on-exec, like every socket of these tests: a child that inherited it would hold its port.
final class UDPReceiver: Sendable {
    let port: Int
    private let descriptor: Int32
    private let received = Locked<[UInt8]>([])
    private let done = DispatchSemaphore(value: 0)
    private let stop = Locked(false)

    init() throws {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EMFILE) }
        var size: Int32 = 8 << 20
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        // A receive timeout lets the reader notice the close.
        var timeout = timeval()  // field by field, as in NotifySocket
        timeout.tv_usec = 100_000
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else {
            Foundation.close(socket)
            throw POSIXError(.EADDRINUSE)
        }
        descriptor = socket
        port = Int(UInt16(bigEndian: address.sin_port))
        let (received, done, stop) = (self.received, done, self.stop)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !stop.state.withLock({ $0 }) {
                let count = recv(socket, &buffer, buffer.count, 0)
                if count > 0 { received.state.withLock { $0 += buffer[..<count] } }
            }
            done.signal()
        }
    }

    /// The bytes of every datagram so far, in arrival order.
    var bytes: [UInt8] { received.state.withLock { $0 } }

    /// Stops the reader and closes the socket.
    func close() {
        let wasStopped = stop.state.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        done.wait()
        Foundation.close(descriptor)
    }

    deinit { close() }
}
