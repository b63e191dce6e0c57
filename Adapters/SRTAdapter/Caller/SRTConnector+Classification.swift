import CSRT
public import Supervisor

/// What a failure means for an outgoing connection: the caller's own table, explicit, on top of ``SRTError``'s.
///
/// ``SRTError/failureDecision`` classifies every connect failure (1001, 1002, 1004) as "per connection, restart":
/// right for a listener, which must never restart for one caller, but not for a caller, where a rejection for a
/// wrong passphrase or a forbidden stream id would be retried forever with the same result. This table decides
/// those, and falls back to ``SRTError``'s table, then to `FailureClassifier.default`, for everything else.
///
/// | error | decision | why |
/// | --- | --- | --- |
/// | 1001 no server (reject reason 16, timeout) | ``FailureDecision/restart`` | nobody answered within the connect timeout: the listener is down or restarting |
/// | 6003 timeout | ``FailureDecision/restart`` | the same, said by a wait |
/// | 1002 with reason 10 (wrong passphrase) or 11 (encryption required or unexpected) | ``FailureDecision/giveUp`` | our secret does not match theirs: the next handshake sends the same one |
/// | 1002 with 1400 bad request, 1401 unauthorized, 1403 forbidden | ``FailureDecision/giveUp`` | the listener refuses this stream id, and will again |
/// | 1002 with reason 8 (version), 12 (message API), 13 (congestion), 14 (packet filter), 15 (group) | ``FailureDecision/giveUp`` | settings the listener cannot accept |
/// | 1002 with any other reason (backlog, closing, resource, 1402 overload, 1404 not found, 1409 conflict, 1503 unavailable, application codes 2000–2998, unknown) | ``FailureDecision/restart`` | the listener is busy, going away, or waiting for the stream: it may pass |
/// | 1004 security failure | ``FailureDecision/giveUp`` | the encryption could not be set up with these settings |
/// | 2000, 2001, 2002, 7000 | ``FailureDecision/restart`` | the connection broke (peer gone, listener restarted): reconnect |
/// | ``SRTError/Code/closedLocally`` | ``FailureDecision/restart`` | the application closed the connection: it wants a fresh one (to stop, cancel or shut down instead) |
/// | any other ``SRTError`` | ``SRTError/failureDecision`` | 1003 by errno, system resources restart, API misuse gives up |
/// | anything else | `FailureClassifier.default` | restart (the supervisor's own cancellation stops it without asking) |
///
/// ```swift
/// let policy = try RestartPolicy(backoff: SRTCaller.defaultBackoff, classifier: SRTConnector.classifier)
/// SRTConnector.decision(for: SRTError(code: .connectionRejected, operation: .connect, rejectReason: 1403))  // give up
/// ```
///
/// To change one row, put your own classifier first:
/// `.firstMatch([.matching({ ($0 as? SRTError)?.rejectReason == 1404 }, .giveUp), SRTConnector.classifier])`.
extension SRTConnector {
    /// The caller's classifier: the table above.
    public static let classifier = FailureClassifier.type(SRTError.self) { decision(for: $0) }.orElse(.default)

    /// The decision of the table above for `error`; `nil` only where ``SRTError/failureDecision`` has no opinion.
    public static func decision(for error: SRTError) -> FailureDecision? {
        switch error.code {
        case .noServer, .timeout:
            return .restart
        case .connectionRejected:
            return error.rejectReason.map(fatalRejectReasons.contains) == true ? .giveUp : .restart
        case .securityFailure:
            return .giveUp
        case .connectionFailure, .connectionLost, .noConnection, .peerError, .closedLocally:
            return .restart
        default:
            return error.failureDecision
        }
    }

    /// Reject reasons that the next handshake would get again: our secret, our stream id, our settings.
    public static let fatalRejectReasons: Set<Int32> = [
        Int32(SRT_REJ_VERSION.rawValue), Int32(SRT_REJ_BADSECRET.rawValue), Int32(SRT_REJ_UNSECURE.rawValue),
        Int32(SRT_REJ_MESSAGEAPI.rawValue), Int32(SRT_REJ_CONGESTION.rawValue), Int32(SRT_REJ_FILTER.rawValue),
        Int32(SRT_REJ_GROUP.rawValue), SRTRejectReason.badRequest.code, SRTRejectReason.unauthorized.code,
        SRTRejectReason.forbidden.code,
    ]
}
