public import Supervisor
import Synchronization

/// Decides, during the handshake, whether a caller may connect, from its stream id and address.
///
/// ```swift
/// let access = SRTAccessControl { request in
///     request.streamID.hasPrefix("publish/") ? .accept : .reject(.forbidden)
/// }
/// let patient = try SRTAccessControl(deadline: .milliseconds(200)) { request in
///     allowList.contains(request.streamID) ? .accept : .reject(.notFound)
/// }
/// print(access.statistics)  // answered in time 12, timed out 0, refused while overdue 0
/// let fromMemory = SRTAccessControl.immediate { request in   // answered on libsrt's thread, never 1503
///     blocked.isSet ? .reject(.unavailable) : .accept
/// }
/// ```
///
/// libsrt asks for the decision on its receive thread while it holds the listener lock (`Docs/libsrt-failure-modes.md
/// §8`): while that thread waits, no packet moves on the port, live connections' data and the listener's self-probe
/// included. So the closure runs on a thread of the listener's own, and the receive thread waits for it at most
/// ``deadline`` (50 ms by default):
///
/// - An answer within the deadline is used as it is: accept, or reject with its reason. The hand-over costs tens of
///   microseconds.
/// - No answer within the deadline: the caller is rejected with ``SRTRejectReason/unavailable`` (1503) and a warning
///   is logged (at most one a second, saying how many were left out). The closure goes on running; its answer is
///   dropped.
/// - While a decision is still running past its deadline, every new caller is rejected at once with 1503, without
///   waiting: handshakes never queue behind a stuck closure. The next caller after it returns is decided normally.
/// - Closing the listener never waits for the closure: its thread is joined when idle, and otherwise left to end
///   on its own as soon as the closure returns.
///
/// So the receive thread waits at most one ``deadline`` per handshake, and not at all while the closure is known to
/// be stuck. The self-probe and the connection cap are answered before the closure is asked. The closure may block
/// (a lookup in a database, say), but every decision that takes longer than the deadline turns a caller away:
/// prefer decisions from memory prepared beforehand. It must not call libsrt on the listener it decides for.
///
/// In a process so starved of CPU that the closure's thread does not even start within the deadline, a quick closure's
/// caller is rejected the same way (the warning says which case it was); callers retry.
///
/// A self-probe can wait behind one handshake's deadline, so a listener whose deadline is as long as one of its health
/// check's timeouts (``SRTHealthCheck/deathProbeTimeout``, 100 ms by default; ``SRTHealthCheck/probeTimeout``) waits
/// that much longer for its probes, rather than counting a live listener whose probe sat behind a slow decision as
/// dead; it logs the timeouts it uses. That lengthens fault detection by the deadline: keep the deadline short.
///
/// A decision that only reads memory (a set prepared beforehand, an atomic flag) needs no thread of its own:
/// ``immediate(_:)`` runs it on the receive thread itself, inside the handshake, so no caller is ever turned away
/// because a thread was not scheduled in time.
public struct SRTAccessControl: Sendable {
    let decide: @Sendable (SRTAccessRequest) -> SRTAccessDecision
    /// How long libsrt's receive thread waits for a decision before it rejects the caller with
    /// ``SRTRejectReason/unavailable``; unused by an ``immediate(_:)`` access control.
    public let deadline: Duration
    /// Whether the closure runs on libsrt's receive thread itself (``immediate(_:)``) rather than on a thread of
    /// the listener's own.
    public let runsOnReceiveThread: Bool
    /// Shared by copies, so that every listener started with this access control counts in one place.
    let counters = Counters()

    /// The deadline unless one is given: short enough that a live stream on the port barely notices a stuck closure.
    public static let defaultDeadline = Duration.milliseconds(50)

    /// The shortest and longest ``deadline`` accepted.
    public static let deadlineRange = Duration.milliseconds(1)...Duration.seconds(1)

    /// An access control that asks `decide` for every caller, waiting at most ``defaultDeadline`` for it.
    public init(_ decide: @escaping @Sendable (SRTAccessRequest) -> SRTAccessDecision) {
        self.decide = decide
        self.deadline = Self.defaultDeadline
        self.runsOnReceiveThread = false
    }

    /// An access control whose closure answers from memory at once: it runs on libsrt's receive thread, inside the
    /// handshake, with no thread hand-over and no deadline. Every packet on the port waits while it runs, so it must
    /// not block, sleep, do I/O or call libsrt: read an atomic, a lock held for nanoseconds, a value prepared
    /// beforehand. In exchange, a CPU-starved process never turns a caller away with 1503 for want of a thread.
    public static func immediate(_ decide: @escaping @Sendable (SRTAccessRequest) -> SRTAccessDecision)
        -> SRTAccessControl
    {
        SRTAccessControl(decide: decide, deadline: defaultDeadline, runsOnReceiveThread: true)
    }

    private init(
        decide: @escaping @Sendable (SRTAccessRequest) -> SRTAccessDecision, deadline: Duration,
        runsOnReceiveThread: Bool
    ) {
        self.decide = decide
        self.deadline = deadline
        self.runsOnReceiveThread = runsOnReceiveThread
    }

    /// An access control that asks `decide` for every caller, waiting at most `deadline` for it.
    ///
    /// - Throws: `ConfigurationError` (`outOfRange`, option `deadline`) unless `deadline` is 1 ms to 1 s.
    public init(
        deadline: Duration, _ decide: @escaping @Sendable (SRTAccessRequest) -> SRTAccessDecision
    ) throws(ConfigurationError) {
        guard Self.deadlineRange.contains(deadline) else {
            throw ConfigurationError(.outOfRange, option: "deadline", "must be 1 ms to 1 s, got \(deadline)")
        }
        self.decide = decide
        self.deadline = deadline
        self.runsOnReceiveThread = false
    }

    /// Accepts every caller.
    public static let acceptAll = SRTAccessControl { _ in .accept }

    /// How the decisions went so far, over every listener started with this access control.
    public var statistics: Statistics {
        Statistics(
            answeredInTime: counters.answeredInTime.load(ordering: .relaxed),
            timedOut: counters.timedOut.load(ordering: .relaxed),
            refusedWhileOverdue: counters.refusedWhileOverdue.load(ordering: .relaxed))
    }

    /// Counts of decisions, for metrics and tests.
    public struct Statistics: Sendable, Hashable, CustomStringConvertible {
        /// Decisions the closure gave within the deadline (accept or reject); every decision of an
        /// ``SRTAccessControl/immediate(_:)`` access control.
        public let answeredInTime: Int
        /// Callers rejected with 1503 because the closure gave no answer within the deadline.
        public let timedOut: Int
        /// Callers rejected with 1503 at once because an earlier decision was still running past its deadline.
        public let refusedWhileOverdue: Int

        public var description: String {
            "answered in time \(answeredInTime), timed out \(timedOut), refused while overdue \(refusedWhileOverdue)"
        }
    }

    final class Counters: Sendable {
        let answeredInTime = Atomic<Int>(0)
        let timedOut = Atomic<Int>(0)
        let refusedWhileOverdue = Atomic<Int>(0)
    }
}

/// One caller asking to connect.
public struct SRTAccessRequest: Sendable, Hashable {
    /// The stream id the caller sent (`SRTO_STREAMID`), empty when none.
    public let streamID: String
    /// The caller's address, when libsrt gave one.
    public let peerAddress: SRTAddress?
    /// The handshake version (4 or 5).
    public let handshakeVersion: Int
}

/// Accept, possibly with a passphrase of the caller's own, or reject with a reason the caller sees as its reject
/// reason.
///
/// ```swift
/// .reject(.forbidden)                  // the caller sees 1403
/// .reject(try .init(code: 2_404))      // an application code, 2000...2998
/// .accept(passphrase: secrets[request.streamID])   // this stream's secret; nil keeps the listener's
/// ```
///
/// A passphrase given with the acceptance replaces the listener's for this caller alone (libsrt lets the listen
/// callback set `SRTO_PASSPHRASE` on the socket it is about to accept): a caller that does not know it fails the
/// handshake as with a wrong listener passphrase, and the listener counts it as a rejected handshake, never as an
/// open connection. The key length is the caller's (libsrt takes it from the caller's key material).
public struct SRTAccessDecision: Sendable, Hashable {
    /// The reject reason, or `nil` to accept.
    public let rejectReason: SRTRejectReason?
    /// The passphrase this caller must use, when accepted; `nil` keeps the listener's (or none).
    public let passphrase: SRTPassphrase?

    /// Let the caller in, with the listener's passphrase (or none).
    public static let accept = SRTAccessDecision(rejectReason: nil, passphrase: nil)

    /// Let the caller in if it uses `passphrase`; `nil` keeps the listener's.
    public static func accept(passphrase: SRTPassphrase?) -> SRTAccessDecision {
        SRTAccessDecision(rejectReason: nil, passphrase: passphrase)
    }

    /// Turn the caller away with `reason`.
    public static func reject(_ reason: SRTRejectReason) -> SRTAccessDecision {
        SRTAccessDecision(rejectReason: reason, passphrase: nil)
    }
}
