import CSRT
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the probes of loopback listeners connect from: one libsrt socket per family, bound to the loopback address
/// once and never connected, whose multiplexer (UDP socket and two threads) every probe then shares by binding to
/// the same address and port.
///
/// A caller with a port of its own gets a multiplexer that libsrt's garbage collector frees about a second after
/// the close, holding libsrt's global lock while it joins the multiplexer's receive thread (up to 10 ms, that
/// thread's `select` timeout). Every libsrt call of the process waits on that lock meanwhile: with probes every few
/// seconds per listener, and after a fault, those joins were the slowest waits of a listener's recovery. A probe
/// through the shared multiplexer frees none. The price: one UDP socket and two threads for the process.
///
/// ```swift
/// let origin = ProbeOrigin.for(target)                 // nil: not a loopback target; the probe binds its own
/// let from = await origin?.address()                   // 127.0.0.1:<the shared port>
/// if !alive, let origin, let from, !origin.stillReads(from) { /* the origin was deaf: probe again on its own */ }
/// ```
final class ProbeOrigin: Sendable {
    /// The probes of IPv4 loopback listeners (127.0.0.0/8).
    static let ipv4 = ProbeOrigin(host: "127.0.0.1")
    /// The probes of `[::1]` listeners.
    static let ipv6 = ProbeOrigin(host: "::1")

    /// The shared origin for a probe of `target`, `nil` for an address that is not loopback (a probe from the
    /// loopback address might not reach it).
    static func `for`(_ target: SRTAddress) -> ProbeOrigin? {
        if target.host == "::1" { return ipv6 }
        return target.host.hasPrefix("127.") ? ipv4 : nil
    }

    /// The bound socket and what tells whether its multiplexer still reads.
    private struct Anchor: Sendable {
        let socket: SRTSOCKET
        let address: SRTAddress
        let descriptor: Int32
        let identity: (device: UInt64, inode: UInt64)
        let receiveThread: pid_t?

        /// Whether the descriptor still names the socket bound here and its receive thread (when known) exists.
        var looksAlive: Bool {
            guard let now = POSIX.fileIdentity(of: descriptor), now == identity else { return false }
            return receiveThread.map(ReceiveThreads.isRunning) ?? true
        }
    }

    private let host: String
    private let anchor = Mutex<Anchor?>(nil)

    private init(host: String) {
        self.host = host
    }

    /// The shared socket's address and UDP descriptor, `nil` before the first probe (for tests and diagnostics).
    var boundSocket: (address: SRTAddress, descriptor: Int32)? {
        anchor.withLock { $0.map { ($0.address, $0.descriptor) } }
    }

    /// The address a probe binds to; binds the shared socket on first use, and again when the last one died.
    /// `nil` when it cannot be bound (the process short of descriptors): the probe then binds a port of its own.
    func address() async -> SRTAddress? {
        if let current = anchor.withLock({ $0 }), current.looksAlive { return current.address }
        // On the control thread, one at a time: concurrent probes find the one the first of them bound.
        return await SRTControlThread.shared.run { () -> SRTAddress? in
            if let current = self.anchor.withLock({ $0 }) {
                if current.looksAlive { return current.address }
                self.abandon(current)
            }
            let fresh = self.bind()
            self.anchor.withLock { $0 = fresh }
            return fresh?.address
        }
    }

    /// Whether the shared socket at `address` still reads, checked after a probe through it failed: its number
    /// still names it and its receive thread exists; when that thread is not known, nothing waits unread in it now
    /// or 20 ms later (a deaf multiplexer keeps the listener's answer there). When not, it is abandoned, and the
    /// next probe binds a new one.
    func stillReads(_ address: SRTAddress) async -> Bool {
        guard let current = anchor.withLock({ $0 }), current.address == address else { return false }
        if current.looksAlive {
            if current.receiveThread != nil || csrt_unread_bytes(current.descriptor) == 0 { return true }
            try? await Task.sleep(for: .milliseconds(20))
            if csrt_unread_bytes(current.descriptor) == 0 { return true }
        }
        await SRTControlThread.shared.run {
            let abandoned = self.anchor.withLock { anchor -> Anchor? in
                guard let now = anchor, now.address == address else { return nil }
                anchor = nil
                return now
            }
            if let abandoned { self.abandon(abandoned) }
        }
        return false
    }

    /// A libsrt socket bound to port 0 of the loopback address on a UDP socket of ours (so that its number and its
    /// receive thread are known); `nil` when it cannot be made. On the control thread.
    private func bind() -> Anchor? {
        guard SRTRuntime.hasDescriptorHeadroom else { return nil }
        let socket = srt_create_socket()
        guard socket != SRT_INVALID_SOCK else { return nil }
        var bindErrno: Int32 = 0
        let descriptor = SRTAddress(validHost: host, port: 0).withSocketAddress {
            csrt_udp_bind_v6only($0, $1, 1, &bindErrno)
        }
        guard descriptor >= 0, let identity = POSIX.fileIdentity(of: descriptor) else {
            if descriptor >= 0 { POSIX.closeDescriptor(descriptor) }
            srt_close(socket)
            return nil
        }
        let port = csrt_local_port(descriptor)
        let before = ReceiveThreads.tasks()
        guard port > 0, srt_bind_acquire(socket, descriptor) != SRT_ERROR else {
            // libsrt did not take it: still ours to close.
            POSIX.closeDescriptor(descriptor)
            srt_close(socket)
            return nil
        }
        return Anchor(
            socket: socket, address: SRTAddress(validHost: host, port: Int(port)), descriptor: descriptor,
            identity: identity, receiveThread: ReceiveThreads.started(sinceTasks: before))
    }

    /// Closes a shared socket whose multiplexer stopped reading. As a deaf listener's: /dev/null over its number
    /// while it still names our socket or nothing (libsrt owns the number and closes it one day), never over
    /// another file. On the control thread.
    private func abandon(_ dead: Anchor) {
        srt_close(dead.socket)
        if let now = POSIX.fileIdentity(of: dead.descriptor), now != dead.identity { return }
        _ = csrt_retire_fd_using(dead.descriptor, SRTRuntime.spareNullDescriptor)
    }
}
