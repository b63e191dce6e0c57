import NIOCore
import NIOPosix
public import Supervisor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failure of a supervised NIO channel, classified by what it means for the resource.
///
/// Wraps what NIO threw (`IOError`, `SocketAddressError`, `ChannelError`) with the operation that failed, and
/// classifies itself, so a `ResourceSupervisor` with the default classifier restarts or gives up correctly:
///
/// | cause | decision |
/// | --- | --- |
/// | `IOError` with `EADDRINUSE`, `EADDRNOTAVAIL`, `ENETDOWN`, `ENETUNREACH`, `EHOSTUNREACH`, `ENOBUFS`, `ENOMEM`, `EMFILE`, `ENFILE`, `EINTR`, `EAGAIN` | restart |
/// | `IOError` with `EACCES`, `EPERM`, `EINVAL`, `EAFNOSUPPORT`, `EPROTONOSUPPORT` | give up |
/// | resolving the host failed: the name is unknown (`EAI_NONAME`), the resolver did not answer (`EAI_AGAIN`) or failed, or 64 resolutions were in progress already | restart |
/// | resolving the host failed on a bad request (`EAI_FAMILY`, `EAI_SOCKTYPE`, `EAI_SERVICE`, `EAI_BADFLAGS`) | give up |
/// | `SocketAddressError.UnknownHost` while binding | restart |
/// | other `SocketAddressError` (unparsable or unsupported address) | give up |
/// | the channel closed while nobody asked it to | restart |
/// | anything else | no opinion (the policy's classifier decides; restart by default) |
///
/// A name that does not resolve restarts because it is usually a machine still booting (no network yet, a DNS
/// server not up): the policy's backoff, `maxAttempts` or `maxFailingDuration` bound how long it is tried.
///
/// ```swift
/// catch let error as NIOAdapterError where error.code == .bindFailed {
///     print(error.errno ?? 0)
/// }
/// ```
public struct NIOAdapterError: ClassifiableError, CustomStringConvertible {
    /// Which step failed; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum _Code: Hashable, Sendable {
            case resolutionFailed
            case bindFailed
            case closedUnexpectedly
        }

        private let code: _Code

        private init(_ code: _Code) {
            self.code = code
        }

        /// Resolving the host name to an address failed (`underlying` is NIO's `SocketAddressError.UnknownHost`,
        /// whose `errorCode` is getaddrinfo's).
        public static let resolutionFailed = Code(.resolutionFailed)
        /// Binding the channel failed.
        public static let bindFailed = Code(.bindFailed)
        /// The bound channel closed without being asked to (its socket failed).
        public static let closedUnexpectedly = Code(.closedUnexpectedly)

        public var description: String {
            switch code {
            case .resolutionFailed: "host name resolution failed"
            case .bindFailed: "bind failed"
            case .closedUnexpectedly: "channel closed unexpectedly"
            }
        }
    }

    /// Which step failed.
    public let code: Code
    /// The address the channel was bound, or was to be bound, to.
    public let address: String
    /// What NIO threw, if anything.
    public let underlying: (any Error)?

    public init(_ code: Code, address: String, underlying: (any Error)? = nil) {
        self.code = code
        self.address = address
        self.underlying = underlying
    }

    /// The errno of an underlying `IOError`.
    public var errno: Int32? {
        (underlying as? IOError)?.errnoCode
    }

    public var failureDecision: FailureDecision? {
        if code == .closedUnexpectedly { return .restart }
        if code == .resolutionFailed { return resolutionDecision }
        if let errno {
            switch errno {
            case EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, EHOSTUNREACH, ENOBUFS, ENOMEM, EMFILE, ENFILE,
                EINTR, EAGAIN:
                return .restart
            case EACCES, EPERM, EINVAL, EAFNOSUPPORT, EPROTONOSUPPORT:
                return .giveUp
            default:
                return nil
            }
        }
        // Name resolution failed: the resolver may answer next time.
        if underlying is SocketAddressError.UnknownHost { return .restart }
        // Unparsable or unsupported: the configuration is wrong.
        if underlying is SocketAddressError { return .giveUp }
        return nil
    }

    /// A failed resolution restarts, unless the request itself was wrong.
    private var resolutionDecision: FailureDecision {
        guard let unknown = underlying as? SocketAddressError.UnknownHost else { return .restart }
        switch Int32(clamping: unknown.errorCode) {
        case EAI_FAMILY, EAI_SOCKTYPE, EAI_SERVICE, EAI_BADFLAGS: return .giveUp
        default: return .restart
        }
    }

    public var description: String {
        let cause = underlying.map { ": \($0)" } ?? ""
        return "\(address): \(code)\(cause)"
    }
}
