/// One libsrt receive thread exited: every socket on its UDP port is deaf from now on, though each still reports
/// its old state (`Docs/libsrt-failure-modes.md §2`). libsrt does not say which port, but it writes the line on the
/// dying thread (``thread``); listeners check themselves.
///
/// ```swift
/// for await death in SRTRuntime.receiveThreadDeaths() {
///     logger.critical("receive thread died (#\(death.sequenceNumber)): \(death.message)")
/// }
/// ```
public struct ReceiveThreadDeath: Sendable, Hashable, CustomStringConvertible {
    /// 1 for the first death this process saw, 2 for the second, ...
    public let sequenceNumber: Int
    /// libsrt's critical log line, as it was written.
    public let message: String
    /// When the log line arrived.
    public let instant: ContinuousClock.Instant
    /// The kernel's id of the thread that wrote the line: the receive thread that died (libsrt logs it on that thread,
    /// which exits right after). `nil` when the line was not written on one of libsrt's receive threads.
    public let thread: Int32?

    init(sequenceNumber: Int, message: String, instant: ContinuousClock.Instant = .now, thread: Int32? = nil) {
        self.sequenceNumber = sequenceNumber
        self.message = message
        self.instant = instant
        self.thread = thread
    }

    public var description: String {
        "receive thread death #\(sequenceNumber): \(message)"
    }
}
