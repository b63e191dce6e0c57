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

    /// Starts the relay with `extra` flags, in `namespace` when one is given, and waits for its `listening` line; on
    /// `port` and recording to `directory` when given (a relay started again in another's place).
    static func start(
        _ extra: [String] = [], namespace: NetworkNamespace? = nil, environment: [String: String] = [:],
        port: Int? = nil, directory: URL? = nil
    ) async throws -> RelayUnderTest {
        let (process, log, port, directory) = try RelayReaderTests.startRelay(
            extra, namespace: namespace, environment: environment, port: port, directory: directory)
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
