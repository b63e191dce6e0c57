import CSRT

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed libsrt call: libsrt's error code, the system errno behind it, and the operation that failed.
///
/// ```swift
/// do {
///     _ = try SRTListenSocket.open(configuration)
/// } catch let error as SRTError {
///     print(error)                  // srt_bind_acquire failed: SRT 1003 (...), errno 98 (Address already in use)
///     if error.code == .socketFailure, error.systemErrno == EADDRINUSE { … }
///     print(error.failureDecision)  // restart: the table in SRTError+Classification.swift
/// }
/// ```
///
/// libsrt keeps its last error per thread, and its errno is stale unless the code is 1000 or 1003
/// (`Docs/libsrt-failure-modes.md §6`), so `last(_:socket:)` must run right after the failing call, on the same thread,
/// with no `await` in between; it drops the errno for other codes.
public struct SRTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// libsrt's error code (`SRT_ERRNO`), or one of the adapter's own conditions.
    public let code: Code
    /// The system errno behind the failure, or 0 when libsrt gave none that can be trusted.
    public let systemErrno: Int32
    /// The libsrt call (or adapter step) that failed.
    public let operation: Operation
    /// libsrt's (or the adapter's) explanation.
    public let message: String
    /// For failed connects: libsrt's reject reason (`SRT_REJ_*` below 1000, application codes from 1000).
    public let rejectReason: Int32?
    /// For ambiguous codes (6002 from accept): the socket's state when the error was read.
    public let socketState: SRTSocketState?

    /// Creates an error; adapters normally use `last(_:socket:)`.
    public init(
        code: Code,
        systemErrno: Int32 = 0,
        operation: Operation,
        message: String? = nil,
        rejectReason: Int32? = nil,
        socketState: SRTSocketState? = nil
    ) {
        self.code = code
        self.systemErrno = systemErrno
        self.operation = operation
        self.message = message ?? code.description
        self.rejectReason = rejectReason
        self.socketState = socketState
    }

    /// The error libsrt recorded on this thread for the call that just failed; clears it.
    ///
    /// - Parameter socket: when given, the socket's state and reject reason are recorded too.
    static func last(_ operation: Operation, socket: SRTSOCKET? = nil) -> SRTError {
        var systemErrno: Int32 = 0
        let raw = srt_getlasterror(&systemErrno)
        let message = String(cString: srt_getlasterror_str())
        srt_clearlasterror()
        let code = Code(rawValue: raw)
        // Only 1000 and 1003 come from a system call; for the rest the thread's errno is left over from elsewhere.
        let trusted = code == .connectionSetup || code == .socketFailure
        return SRTError(
            code: code,
            systemErrno: trusted ? systemErrno : 0,
            operation: operation,
            message: message,
            rejectReason: socket.map { srt_getrejectreason($0) }.flatMap { $0 > 0 ? $0 : nil },
            socketState: socket.map { SRTSocketState(srt_getsockstate($0)) })
    }

    /// ``last(_:socket:)``, or `nil` (and the error cleared) when it is `wouldBlock` (``Code/asyncReceive`` for a
    /// receive, ``Code/asyncSend`` for a send): that case looks nothing up, since each lookup of the socket's state
    /// and reject reason takes libsrt's global lock.
    static func lastUnlessWouldBlock(_ operation: Operation, _ wouldBlock: Code, socket: SRTSOCKET) -> SRTError? {
        if srt_getlasterror(nil) == wouldBlock.rawValue {
            srt_clearlasterror()
            return nil
        }
        return last(operation, socket: socket)
    }

    public var description: String {
        // A restart on request is no failure of the call, whatever the supervisor's log calls the run's end.
        let outcome = code == .restartRequested ? "ended" : "failed"
        var text = "\(operation) \(outcome): SRT \(code.rawValue) (\(message))"
        if systemErrno != 0 { text += ", errno \(systemErrno) (\(String(cString: strerror(systemErrno))))" }
        if let rejectReason { text += ", reject reason \(rejectReason) (\(Self.describeRejectReason(rejectReason)))" }
        if let socketState, code == .asyncReceive { text += ", socket \(socketState)" }
        return text
    }

    static func describeRejectReason(_ reason: Int32) -> String {
        if reason == SRTListenSocket.probeRejectReason { return "self-probe of a live listener" }
        return String(cString: srt_rejectreason_str(reason))
    }
}
