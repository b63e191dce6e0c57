public import Supervisor

/// How a caller finds out that its own UDP receive thread died, which leaves its connection `CONNECTED` and deaf
/// for good (libsrt's timers, the peer-idle one included, run on that thread).
///
/// ```swift
/// let health = try SRTCallerHealthCheck(deathWatch: .seconds(2), unreadLimit: .milliseconds(400))
/// let caller = SRTCaller(configuration: configuration, health: health)
/// ```
///
/// The evidence is local: the caller owns its UDP socket and looks at it (`ReceivePathWatch`). A receive thread
/// that lives takes every datagram off the socket within microseconds; a dead one leaves them there. So:
///
/// - **Dead** when the descriptor is not a socket any more, or when datagrams wait unread for ``unreadLimit``
///   (three looks or more, the queue's kernel memory never falling) while no counter of the receive thread moves.
/// - **Alive** as soon as a counter that only the receive thread moves rises (data or acknowledgements, see
///   ``SRTStatistics/receiveThreadActivity``) or the queue's memory falls.
/// - An idle connection shows neither until the peer's next keep-alive (one a second): a watch lasts at most
///   ``deathWatch``, and ends "alive" if nothing arrived at all (a silent peer is libsrt's peer-idle timer's business).
///
/// Two triggers, as for the listener: libsrt's critical log line (some receive thread of the process died; every
/// caller watches itself for up to ``deathWatch``), and a look at the socket every ``checkInterval`` without any
/// signal (two system calls, no libsrt call), which starts a watch when datagrams waited at two looks in a row
/// with the queue not falling, or when the descriptor stopped being a socket.
public struct SRTCallerHealthCheck: Sendable, Hashable {
    /// How long a watch after a death signal may last: longer than the peer's keep-alive interval (1 s) plus
    /// ``unreadLimit``, so that an idle deaf caller has received the keep-alive that shows it deaf.
    public let deathWatch: Duration
    /// How long datagrams must wait unread, the queue never falling and no counter moving, before the caller is
    /// judged deaf. A live receive thread reads within microseconds; a CPU-starved one within a few scheduler slices.
    public let unreadLimit: Duration
    /// Time between looks during a watch.
    public let lookInterval: Duration
    /// Time between the looks at the UDP socket made without a death signal.
    public let checkInterval: Duration

    /// The peer's keep-alive interval in libsrt 1.5.1: the longest an idle live connection goes without a datagram.
    public static let keepAliveInterval = Duration.seconds(1)

    /// Validates every value: each 1 ms to 10 min, the look shorter than the unread limit, and the watch longer than
    /// ``keepAliveInterval`` plus the unread limit (so that an idle deaf caller has received a keep-alive to show it).
    public init(
        deathWatch: Duration = .milliseconds(1_500),
        unreadLimit: Duration = .milliseconds(250),
        lookInterval: Duration = .milliseconds(10),
        checkInterval: Duration = .seconds(1)
    ) throws(ConfigurationError) {
        for (name, value) in [
            ("deathWatch", deathWatch), ("unreadLimit", unreadLimit), ("lookInterval", lookInterval),
            ("checkInterval", checkInterval),
        ] where value < .milliseconds(1) || value > .seconds(600) {
            throw ConfigurationError(.outOfRange, option: name, "must be 1 ms to 10 min, got \(value)")
        }
        guard lookInterval < unreadLimit else {
            throw ConfigurationError(
                .outOfRange, option: "unreadLimit",
                "must be longer than lookInterval (\(lookInterval)), got \(unreadLimit)")
        }
        guard deathWatch > Self.keepAliveInterval + unreadLimit else {
            throw ConfigurationError(
                .outOfRange, option: "deathWatch",
                "must be longer than the 1 s keep-alive plus unreadLimit (\(unreadLimit)), got \(deathWatch)")
        }
        self.deathWatch = deathWatch
        self.unreadLimit = unreadLimit
        self.lookInterval = lookInterval
        self.checkInterval = checkInterval
    }

    /// Watch for up to 1.5 s after a death signal, dead after 250 ms unread, a look every 10 ms; a look at the
    /// socket every second without a signal.
    public static let standard: SRTCallerHealthCheck = {
        do { return try SRTCallerHealthCheck() } catch {
            fatalError("the standard caller health check is valid: \(error)")
        }
    }()
}
