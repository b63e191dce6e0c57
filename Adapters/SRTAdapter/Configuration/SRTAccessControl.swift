/// Decides, during the handshake, whether a caller may connect, from its stream id and address.
///
/// ```swift
/// let access = SRTAccessControl { request in
///     request.streamID.hasPrefix("publish/") ? .accept : .reject(.forbidden)
/// }
/// ```
///
/// The closure runs on libsrt's receive thread while libsrt holds a lock (`SRT-FACTS.md` §6): while it runs, no
/// packet moves on that port. It must return at once: no I/O, no waiting, no libsrt calls (closing the listener
/// from here deadlocks). Look decisions up in memory prepared beforehand. The adapter logs a warning when a decision
/// takes longer than 10 ms.
public struct SRTAccessControl: Sendable {
    let decide: @Sendable (SRTAccessRequest) -> SRTAccessDecision

    /// An access control that asks `decide` for every caller.
    public init(_ decide: @escaping @Sendable (SRTAccessRequest) -> SRTAccessDecision) {
        self.decide = decide
    }

    /// Accepts every caller.
    public static let acceptAll = SRTAccessControl { _ in .accept }
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

/// Accept, or reject with a reason the caller sees as its reject reason.
///
/// ```swift
/// .reject(.forbidden)                  // the caller sees 1403
/// .reject(try .init(code: 2_404))      // an application code, 2000...2998
/// ```
public struct SRTAccessDecision: Sendable, Hashable {
    /// The reject reason, or `nil` to accept.
    public let rejectReason: SRTRejectReason?

    /// Let the caller in.
    public static let accept = SRTAccessDecision(rejectReason: nil)

    /// Turn the caller away with `reason`.
    public static func reject(_ reason: SRTRejectReason) -> SRTAccessDecision {
        SRTAccessDecision(rejectReason: reason)
    }
}
