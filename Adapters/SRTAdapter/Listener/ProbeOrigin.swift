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
/// let binding = await origin?.binding()                // 127.0.0.1:<the shared port>, and which origin that is
/// if !alive, let origin, let binding, await origin.replaceIfAtFault(binding, after: error) { /* probe again */ }
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

    /// Where a probe binds, and which of the origins bound one after the other that is (a port can come back).
    struct Binding: Sendable, Equatable {
        let address: SRTAddress
        let generation: Int
    }

    /// The bound socket and what tells whether its multiplexer still reads.
    private struct Anchor: Sendable {
        let socket: SRTSOCKET
        let binding: Binding
        let descriptor: Int32
        let identity: (device: UInt64, inode: UInt64)
        let receiveThread: pid_t

        /// Whether the descriptor still names the socket bound here and its receive thread exists.
        var looksAlive: Bool {
            guard let now = POSIX.fileIdentity(of: descriptor), now == identity else { return false }
            return ReceiveThreads.isRunning(receiveThread)
        }
    }

    private struct State: Sendable {
        var anchor: Anchor?
        var generation = 0
        /// After a failed bind (no descriptor to spare, no loopback address): no new try before this.
        var bindRefusedUntil: ContinuousClock.Instant?
    }

    /// How long a failed bind keeps probes on ports of their own before the next try.
    private static let bindRetryInterval = Duration.seconds(5)

    private let host: String
    private let state = Mutex(State())

    private init(host: String) {
        self.host = host
    }

    /// The shared socket's address and UDP descriptor, `nil` before the first probe (for tests and diagnostics).
    var boundSocket: (address: SRTAddress, descriptor: Int32)? {
        state.withLock { $0.anchor.map { ($0.binding.address, $0.descriptor) } }
    }

    /// Where a probe binds; binds the shared socket on first use, and again when the last one died or was given up.
    /// `nil` when it cannot be bound (the process short of descriptors, no loopback address): the probe then binds a
    /// port of its own.
    func binding() async -> Binding? {
        if let current = state.withLock({ $0.anchor }), current.looksAlive { return current.binding }
        // On the control thread, one at a time: concurrent probes find the one the first of them bound.
        return await SRTControlThread.shared.run { () -> Binding? in
            let (current, refused) = self.state.withLock { ($0.anchor, $0.bindRefusedUntil) }
            if let current {
                if current.looksAlive { return current.binding }
                self.giveUp(current, alive: false)
            }
            if let refused, ContinuousClock.now < refused { return nil }
            let fresh = self.bind()
            return self.state.withLock { state in
                state.anchor = fresh
                state.bindRefusedUntil = fresh == nil ? .now + Self.bindRetryInterval : nil
                return fresh?.binding
            }
        }
    }

    /// After a probe through `binding` failed with `error`: whether the origin, not the listener, may be why; the
    /// probe is then made again from a port of its own, and the next probe binds a new origin. The origin is at
    /// fault when it is not the current one any more, when its socket or its receive thread is gone, or when the
    /// probe could not bind to it (libsrt refuses when a wildcard socket of the other family took the same port
    /// number since: closed then, and the next origin gets another port).
    func replaceIfAtFault(_ binding: Binding, after error: SRTError?) async -> Bool {
        let bindRefused = error?.operation == .bind
        return await SRTControlThread.shared.run { () -> Bool in
            let current = self.state.withLock { state -> Anchor? in
                guard let anchor = state.anchor, anchor.binding == binding else { return nil }
                return anchor
            }
            // Replaced meanwhile: this probe went through an origin that is gone.
            guard let current else { return true }
            let alive = current.looksAlive
            guard !alive || bindRefused else { return false }
            self.state.withLock { $0.anchor = nil }
            self.giveUp(current, alive: alive)
            return true
        }
    }

    /// A libsrt socket bound to port 0 of the loopback address on a UDP socket of ours, so that its number and its
    /// receive thread are known; `nil` when it cannot be made, or its receive thread cannot be told apart (it could
    /// not be checked). On the control thread.
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
        guard let thread = ReceiveThreads.started(sinceTasks: before) else {
            // Alive, and libsrt's now: its close frees it.
            srt_close(socket)
            return nil
        }
        let generation = state.withLock { state in
            state.generation += 1
            return state.generation
        }
        return Anchor(
            socket: socket,
            binding: Binding(address: SRTAddress(validHost: host, port: Int(port)), generation: generation),
            descriptor: descriptor, identity: identity, receiveThread: thread)
    }

    /// Closes a shared socket that no probe will use any more. A live one is only closed (libsrt frees it); a dead
    /// one is retired as a deaf listener's socket is. On the control thread.
    private func giveUp(_ anchor: Anchor, alive: Bool) {
        srt_close(anchor.socket)
        if !alive { SRTRuntime.retireDeadSocket(anchor.descriptor, identity: anchor.identity) }
    }
}
