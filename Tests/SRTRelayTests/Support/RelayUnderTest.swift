import Foundation
import SRTTestSupport
import Testing

/// The built relay on a free port, recording to a fresh directory, with JSON lines, once it listens; ``stop()``
/// ends it and removes the directory.
///
/// ```swift
/// let started = try await RelayUnderTest.start(["--record", "none"])
/// defer { started.stop() }
/// ```
struct RelayUnderTest {
    let process: TestProcess
    let log: RelayLog
    let port: Int
    let directory: URL

    /// Starts the relay with `extra` flags, in `namespace` when one is given, and waits for its `listening` line.
    static func start(_ extra: [String] = [], namespace: NetworkNamespace? = nil) async throws -> RelayUnderTest {
        let (process, log, port, directory) = try RelayReaderTests.startRelay(extra, namespace: namespace)
        let started = RelayUnderTest(process: process, log: log, port: port, directory: directory)
        do {
            _ = try await log.next("listening")
        } catch {
            started.stop()
            throw error
        }
        return started
    }

    func stop() {
        process.terminate()
        try? FileManager.default.removeItem(at: directory)
    }
}
