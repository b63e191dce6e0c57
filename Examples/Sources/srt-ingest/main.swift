// An SRT ingest listener on 127.0.0.1:<port>: counts each caller's bytes and prints them when it leaves. When
// libsrt's receive thread dies under the listener, the listener is retired and bound again within milliseconds; the
// callers it carried are reported as lost and can reconnect at once.
import Logging
import SRTAdapter
import ServiceLifecycle

let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 9000
let logger = Logger(label: "srt-ingest")
let server = SRTServer(
    configuration: try SRTListenerConfiguration(host: "127.0.0.1", port: port, latency: .milliseconds(120)),
    logger: logger)
let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)

try await withThrowingDiscardingTaskGroup { tasks in
    tasks.addTask { try await group.run() }
    tasks.addTask {
        // One batch per listener death; these connections are already closed.
        for await lost in server.lostConnections {
            logger.warning("lost \(lost.count) connection(s) with a dead listener")
        }
    }
    // Ends when the server stops: a signal, or a fatal error.
    for await connection in server.connections {
        tasks.addTask {
            defer { connection.close() }
            var bytes = 0
            do {
                for try await message in connection.messages { bytes += message.count }
            } catch is CancellationError {
                // The server is stopping.
            } catch {
                logger.info("\(connection) ended: \(error)")
            }
            logger.info("\(connection.streamID): \(bytes) bytes")
        }
    }
}
// libsrt's cleanup can hang after a receive-thread death; this exit cannot.
SRTRuntime.exit(0)
