import CSRT

/// What libsrt says about a socket (`SRT_SOCKSTATUS`). Beware: after a receive-thread death a listener still says
/// ``listening`` and its connections ``connected`` (`Docs/libsrt-failure-modes.md §2`).
///
/// ```swift
/// if connection.state == .broken { … }
/// ```
public struct SRTSocketState: Hashable, Sendable, CustomStringConvertible {
    private let raw: UInt32

    init(_ status: SRT_SOCKSTATUS) {
        self.raw = status.rawValue
    }

    public static let initial = SRTSocketState(SRTS_INIT)
    public static let opened = SRTSocketState(SRTS_OPENED)
    public static let listening = SRTSocketState(SRTS_LISTENING)
    public static let connecting = SRTSocketState(SRTS_CONNECTING)
    public static let connected = SRTSocketState(SRTS_CONNECTED)
    public static let broken = SRTSocketState(SRTS_BROKEN)
    public static let closing = SRTSocketState(SRTS_CLOSING)
    public static let closed = SRTSocketState(SRTS_CLOSED)
    public static let nonexistent = SRTSocketState(SRTS_NONEXIST)

    /// Broken, closing, closed or gone: nothing will ever arrive on it again.
    public var isClosedOrBroken: Bool {
        self == .broken || self == .closing || self == .closed || self == .nonexistent
    }

    public var description: String {
        switch self {
        case .initial: "INIT"
        case .opened: "OPENED"
        case .listening: "LISTENING"
        case .connecting: "CONNECTING"
        case .connected: "CONNECTED"
        case .broken: "BROKEN"
        case .closing: "CLOSING"
        case .closed: "CLOSED"
        case .nonexistent: "NONEXIST"
        default: "state \(raw)"
        }
    }
}
