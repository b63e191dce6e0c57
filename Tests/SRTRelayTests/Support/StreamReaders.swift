import Foundation
import SRTAdapter
import SRTTestSupport
import Synchronization

/// A reader of the relay in this process, through the adapter's caller: collects every byte it receives until
/// stopped, or holds them unread (`reading: false`), as a stalled player would.
final class InProcessReader: Sendable {
    let connection: SRTConnection
    private let received = Mutex<[UInt8]>([])
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Why the receive loop ended, once it did.
    let ending = Mutex<(any Error)?>(nil)

    init(port: Int, streamID: String, passphrase: SRTPassphrase? = nil, reading: Bool = true) async throws {
        let configuration = try SRTCallerConfiguration(
            host: "127.0.0.1", port: port, streamID: streamID, passphrase: passphrase, connectTimeout: .seconds(3))
        connection = try await SRTConnection.connect(configuration)
        guard reading else { return }
        let connection = self.connection
        task.withLock {
            $0 = Task { [self] in
                do {
                    while true {
                        let messages = try await connection.receiveAvailable()
                        received.withLock { bytes in for message in messages { bytes += message } }
                    }
                } catch {
                    ending.withLock { $0 = error }
                }
            }
        }
    }

    var bytes: [UInt8] {
        received.withLock { $0 }
    }

    func close() {
        task.withLock { $0 }?.cancel()
        connection.close()
    }
}

/// `srt-live-transmit` reading a stream of the relay into a file: `sh` starts it with its standard output on the file
/// and then becomes it (`exec`), so the pid is srt-live-transmit's. With `reconnecting`, it connects again after a
/// broken connection (its default), as a player that retries.
enum LiveTransmitReader {
    static func start(
        port: Int, streamID: String, into path: String, reconnecting: Bool = false,
        namespace: NetworkNamespace? = nil
    ) throws -> TestProcess {
        try TestProcess(
            "/bin/sh",
            ["-c", "exec \"$0\" \"$@\" > \"$OUT\"", RelayBinary.publisher, "-q"] + (reconnecting ? [] : ["-a:no"])
                + ["srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)", "file://con"],
            environment: ["OUT": path], namespace: namespace)
    }
}
