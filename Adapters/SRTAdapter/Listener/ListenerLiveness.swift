/// What the quick liveness check (``SRTListenSocket/quickCheck(window:)``) found, without a handshake.
enum ListenerLiveness: Sendable, Equatable {
    /// The receive thread runs, or it read the check's datagram.
    case alive
    /// The receive thread is gone: the listener is deaf.
    case dead
    /// The thread is not known and the datagram stayed unread over the window: dead, or starved. The handshake
    /// probe decides.
    case unsure
    /// The thread is not known and no datagram could be sent (no descriptor to spare, the address on no interface):
    /// nothing learned; the periodic probes go on.
    case unchecked
}
