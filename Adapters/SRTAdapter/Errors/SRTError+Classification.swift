public import Supervisor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What an SRT failure means for the resource that saw it (measured on libsrt 1.5.1; Docs/libsrt-failure-modes.md).
///
/// | code | condition | decision | scope | why |
/// | --- | --- | --- | --- | --- |
/// | 1003 | errno EADDRNOTAVAIL, EADDRINUSE, ENODEV, ENETDOWN, ENETUNREACH, EHOSTUNREACH, ENOBUFS, ENOMEM, EMFILE, ENFILE, EAGAIN, EINTR | ``FailureDecision/restart`` | resource | the address, the port, the link or the descriptors come back |
/// | 1003 | errno EACCES, EPERM, EINVAL, EAFNOSUPPORT, EPROTONOSUPPORT, EBADF, ENOTSOCK | ``FailureDecision/giveUp`` | resource | configuration or privilege: retrying cannot help |
/// | 1003 | any other errno | ``FailureDecision/restart`` | resource | a system failure not known to be permanent |
/// | 1000, 3000–3003 | system resources | ``FailureDecision/restart`` | resource | memory, threads and handles come back |
/// | receive thread died | adapter condition | ``FailureDecision/restartNow`` | resource | the deaf UDP socket is retired and a fresh one bound: nothing to wait for (a backoff grown by earlier deaths measured 1.2 s instead of 0.17 s); restart intensity still bounds a storm |
/// | restart requested | adapter condition | ``FailureDecision/restartNow`` | resource | an operator asked; the connections stay |
/// | 1001, 1002, 1004, 2000–2002, 7000 | one connection | ``FailureDecision/restart`` | connection | a listener never restarts for these; a caller decides them with its own table, ``SRTConnector/classifier`` (a wrong passphrase or a forbidden stream id gives up there) |
/// | 5000–5003, 5005–5013, 5015, 4000 | API misuse or settings | ``FailureDecision/giveUp`` | resource | our own configuration: the same call fails again |
/// | 1005, 5004, 5014, closed locally | socket closed | ``FailureDecision/stop`` | resource | a shutdown, not a failure |
/// | 6002 | socket BROKEN, CLOSING, CLOSED or gone | ``FailureDecision/stop`` | resource | accept on a closed listener says 6002 too |
/// | 6000–6004 otherwise | would block, timeout | `nil` | — | not errors: the adapter waits on them and never throws them |
/// | anything else | | `nil` | — | no opinion: the next classifier decides |
///
/// The default classifier of a `RestartPolicy` asks the error itself, so a supervised listener follows this table
/// with no setup. A classifier of your own reaches it through `.selfClassifying` (or `.default`, which ends with it):
///
/// ```swift
/// let held = SRTError(code: .socketFailure, systemErrno: EADDRINUSE, operation: .bind)
/// held.failureDecision  // .restart: the port comes free again
/// let strict = FailureClassifier.firstMatch([.selfClassifying, .always(.giveUp)])
/// let server = SRTServer(configuration: configuration, policy: try RestartPolicy(classifier: strict))
/// ```
extension SRTError: ClassifiableError {
    /// The decision of the table above; `nil` means no opinion.
    public var failureDecision: FailureDecision? {
        switch code {
        case .socketFailure:
            return Self.permanentErrnos.contains(systemErrno) ? .giveUp : .restart
        case .receiveThreadDied, .restartRequested:
            return .restartNow
        case .connectionSetup, .resource, .thread, .noBuffer, .systemObject:
            return .restart
        case _ where isPerConnection:
            return .restart
        case .socketClosed, .invalidSocket, .pollEmpty, .closedLocally:
            return .stop
        case .asyncReceive where socketState?.isClosedOrBroken == true:
            return .stop
        case .asyncFailure, .asyncSend, .asyncReceive, .timeout, .congestion:
            return nil
        case .file, .invalidOperation, .boundSocket, .connectedSocket, .invalidParameter, .unboundSocket,
            .notListening, .rendezvousNoListen, .rendezvousUnbound, .invalidMessageAPI, .invalidBufferAPI,
            .duplicateListener, .messageTooLarge, .invalidPollID, .bindConflict:
            return .giveUp
        default:
            return nil
        }
    }

    /// Whether the failure belongs to one connection only; a listener never restarts for these.
    public var isPerConnection: Bool {
        switch code {
        case .noServer, .connectionRejected, .securityFailure, .connectionFailure, .connectionLost, .noConnection,
            .peerError:
            true
        default:
            false
        }
    }

    /// Whether the error only says "would block" or "timed out": the adapter waits instead of failing.
    public var isWouldBlock: Bool {
        failureDecision == nil
            && [.asyncFailure, .asyncSend, .asyncReceive, .timeout, .congestion].contains(code)
    }

    /// errnos of 1003 that retrying cannot fix.
    static let permanentErrnos: Set<Int32> = [
        EACCES, EPERM, EINVAL, EAFNOSUPPORT, EPROTONOSUPPORT, EBADF, ENOTSOCK,
    ]
}
