import Foundation
import Glibc
import SwiftOverlayShims  // defines timeval's members for MemberImportVisibility, whatever the file batching
import Synchronization

/// A Unix datagram socket standing in for systemd's `$NOTIFY_SOCKET`; collects every message, on a Dispatch thread.
final class NotifySocket: Sendable {
    let path: String
    private let descriptor: Int32
    private let received = Locked<[String]>([])
    private let stop = Locked(false)
    private let done = DispatchSemaphore(value: 0)

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID()).sock").path
        let socket = Foundation.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EMFILE) }
        // Field by field: the memberwise initializer needs SwiftOverlayShims visible, which depends on how the
        // target's files happen to be batched.
        var timeout = timeval()
        timeout.tv_usec = 100_000
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
        guard bound else {
            Foundation.close(socket)
            throw POSIXError(.EADDRINUSE)
        }
        descriptor = socket
        let (received, stop, done) = (self.received, self.stop, done)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stop.state.withLock({ $0 }) {
                let count = recv(socket, &buffer, buffer.count, 0)
                if count > 0 {
                    received.state.withLock { $0.append(String(decoding: buffer[..<count], as: UTF8.self)) }
                }
            }
            done.signal()
        }
    }

    /// Every message so far, in order.
    var messages: [String] { received.state.withLock { $0 } }

    /// Stops the reader, closes and removes the socket.
    func close() {
        let wasStopped = stop.state.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        done.wait()
        Foundation.close(descriptor)
        unlink(path)
    }

    deinit { close() }
}
