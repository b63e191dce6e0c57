import NIOCore
import Synchronization

/// The connections a server accepted and that are still open, whichever of its listening channels accepted them,
/// and the listening channels that closed by themselves (a restart, which leaves their connections be).
///
/// ```swift
/// let connections = AcceptedConnections()
/// // in the server channel's initializer:
/// try channel.pipeline.syncOperations.addHandler(AcceptedConnectionCollector(connections))
/// // when serving ends for good:
/// await connections.drain(gracePeriod: .seconds(5))
/// ```
final class AcceptedConnections: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var restarting: Set<ObjectIdentifier> = []
    }

    private let state = Mutex(State())

    /// How many connections are open now.
    var count: Int {
        state.withLock { $0.open.count }
    }

    /// Tracks `connection` until it closes.
    func add(_ connection: any Channel) {
        let id = ObjectIdentifier(connection)
        state.withLock { $0.open[id] = connection }
        // Runs at once if it closed already.
        connection.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.open.removeValue(forKey: id) }
        }
    }

    /// `listener` closed without being asked to: its stop is a restart's, which keeps the connections.
    func listenerClosedUnexpectedly(_ listener: any Channel) {
        _ = state.withLock { $0.restarting.insert(ObjectIdentifier(listener)) }
    }

    /// Whether `listener` closed by itself (and forgets it).
    func isRestarting(_ listener: any Channel) -> Bool {
        state.withLock { $0.restarting.remove(ObjectIdentifier(listener)) != nil }
    }

    /// Sends `ChannelShouldQuiesceEvent` to every open connection, waits until they all closed, and closes those
    /// still open when `gracePeriod` ends (at once, without the event, for a zero grace period). Returns once every
    /// one of them is closed.
    func drain(gracePeriod: Duration) async {
        let connections = state.withLock { Array($0.open.values) }
        guard let eventLoop = connections.first?.eventLoop else { return }
        if gracePeriod > .zero {
            for connection in connections {
                connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
        }
        let deadline = eventLoop.scheduleTask(in: TimeAmount(gracePeriod)) {
            for connection in connections { connection.close(promise: nil) }
        }
        // A close future always succeeds once its channel closed: by its handler, its peer or the deadline.
        try? await EventLoopFuture.andAllComplete(connections.map(\.closeFuture), on: eventLoop).get()
        deadline.cancel()
    }
}
