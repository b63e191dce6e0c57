import CSRT
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// File descriptors: the adapter never takes the last few, and keeps one /dev/null ready for retiring.
///
/// ```swift
/// if !SRTRuntime.hasDescriptorHeadroom { … }   // fewer than reservedDescriptors + 1 could be opened now
/// ```
///
/// Why (measured, see Docs/srt-fault-model.md, "File-descriptor exhaustion"): a Swift process on Linux with no free
/// descriptor dies within about a second while its concurrency pool has queued work, because libdispatch's worker
/// monitor opens `/proc/<tid>/stat` every second and crashes (SIGILL) when it cannot. So the adapter's own sockets
/// (a listener's UDP socket, an unbound caller's, the reactor's epoll container) fail with EMFILE while fewer than
/// ``reservedDescriptors`` would be left: a transient failure that backs off, in a process that lives. Accepting
/// needs no descriptor (accepted sockets share the listener's UDP socket) and goes on.
extension SRTRuntime {
    /// How many descriptors the adapter leaves free whenever it makes one.
    public static var reservedDescriptors: Int {
        Int(csrt_descriptor_reserve())
    }

    /// Whether the adapter may take a descriptor now: `reservedDescriptors + 1` could be opened. Costs that many
    /// `open`/`fcntl` and `close` calls; asked only before binds, connects and epoll containers.
    public static var hasDescriptorHeadroom: Bool {
        csrt_descriptors_free(csrt_descriptor_reserve() + 1) == 1
    }

    /// A /dev/null descriptor opened at ``start(logger:logLevel:logRateLimit:)``, put over a dead UDP socket when a
    /// listener is retired: the retire must work when the process is out of descriptors. -1 if it could not be opened
    /// then.
    static var spareNullDescriptor: Int32 {
        spareNull.withLock { descriptor in
            if descriptor < 0 { descriptor = open("/dev/null", O_RDWR | O_CLOEXEC) }
            return descriptor
        }
    }

    private static let spareNull = Mutex<Int32>(-1)

    /// Puts ``spareNullDescriptor`` over the UDP descriptor of a dead multiplexer: while the number still names the
    /// socket bound there (`identity`), or names nothing (libsrt still owns the number and closes it one day: a
    /// rebind must not get it); never over another file (fault B's /dev/null, or a number reused). On the control
    /// thread, after the closes that must still reach the peers through the socket.
    static func retireDeadSocket(_ descriptor: Int32, identity: (device: UInt64, inode: UInt64)?) {
        if let now = POSIX.fileIdentity(of: descriptor) {
            guard let identity, now == identity else { return }
        }
        _ = csrt_retire_fd_using(descriptor, spareNullDescriptor)
    }

    /// The error an adapter step reports when it would take one of the reserved descriptors.
    static func descriptorShortage(_ operation: SRTError.Operation, code: SRTError.Code) -> SRTError {
        SRTError(
            code: code, systemErrno: EMFILE, operation: operation,
            message:
                "fewer than \(reservedDescriptors + 1) file descriptors free: the last ones are left to the process")
    }
}
