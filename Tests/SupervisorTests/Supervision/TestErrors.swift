import Supervisor

/// A failure that passes (the default classifier restarts it).
struct Transient: Error, Equatable {
    var id = 0
}

/// A failure that retrying cannot fix.
struct Fatal: ClassifiableError {
    var failureDecision: FailureDecision? { .giveUp }
}

/// Our own close of the resource: a clean stop, not a failure.
struct ClosedByUs: ClassifiableError {
    var failureDecision: FailureDecision? { .stop }
}

/// A failure that says when to try again.
struct Throttled: ClassifiableError {
    var retryAfter: Duration
    var failureDecision: FailureDecision? { .restart(after: retryAfter) }
}

extension SupervisorStopReason {
    var gaveUpCode: SupervisorError.Code? {
        if case .gaveUp(let error) = self { error.code } else { nil }
    }

    var isRequested: Bool {
        if case .requested = self { true } else { false }
    }
}
