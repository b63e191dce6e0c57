import SRTAdapter
import ServiceLifecycle
import Supervisor
import Synchronization

/// Takes every connection the ``SRTServer`` accepts and adds a child to the relay tree's `streams` group that serves
/// it (``StreamCopier``), until it is stopped; then closes every open connection and waits for their recordings to
/// be flushed and closed.
///
/// It sits after `streams` in the tree, so it stops first: the connections end while their children can still
/// flush, each on its own, together; `streams` then finds them gone.
struct StreamAcceptor: Service {
    let server: SRTServer
    let copier: StreamCopier
    let table: ConnectionTable
    let console: Console
    /// The relay's tree, once it exists: the acceptor finds `streams` in it.
    let tree: TreeReference
    /// The policy of each connection's child: never restarted (``RelayTree/workerPolicy()``).
    let workerPolicy: RestartPolicy

    /// How long the shutdown waits for the open recordings, past the time they are given to close.
    static let shutdownWaitMargin = Duration.milliseconds(200)

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Connections closed because their UDP socket died: their streams end on their own (closed locally),
                // and the restart line says why. Drained so the stream does not grow.
                for await _ in server.lostConnections {}
            }
            for await connection in server.connections {
                guard let id = table.add(connection) else { continue }
                add(connection, id: id)
            }
            group.cancelAll()
        }
        // The server stopped or this child is being stopped: end every stream, then wait for the flushes.
        table.closeAll(closingOutputsWithin: StreamCopier.shutdownCloseLimit)
        await table.waitUntilEmpty(within: StreamCopier.shutdownCloseLimit + Self.shutdownWaitMargin)
        // A child that ends before the tree stops it would be started again: wait for the stop (cancellation).
        try? await gracefulShutdown()
    }

    /// Adds the child serving `connection`: temporary, it leaves the group when its stream ends.
    private func add(_ connection: SRTConnection, id: Int) {
        do {
            if let streams = tree.group?.group(at: "streams") {
                try streams.add(
                    .service(
                        ConnectionWorker(copier: copier, connection: connection, id: id), name: "\(id)",
                        policy: workerPolicy, restart: .temporary))
                return
            }
        } catch {}
        // The tree is stopping (or `streams` is full, which the listener's cap keeps from happening): the
        // connection goes.
        table.remove(connection)
        connection.close()
    }
}

/// Serves one connection, once: the child of `streams` that ``StreamAcceptor`` adds for it.
struct ConnectionWorker: Service {
    let copier: StreamCopier
    let connection: SRTConnection
    /// Its number in the ``ConnectionTable``.
    let id: Int

    func run() async {
        await copier.serve(connection, id: id)
    }
}

/// Where the relay's tree is, once built: its children are made before it.
final class TreeReference: Sendable {
    private let stored = Mutex<SupervisorGroup?>(nil)

    var group: SupervisorGroup? {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}
