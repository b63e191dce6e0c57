import CSRT
import Foundation
import InMemoryLogging
import Logging
import ServiceLifecycle
import Supervisor
import Synchronization
import Testing
import UnixSignals

@testable import SRTAdapter

// MARK: - The example of the article "Keeping an SRT listener alive", verbatim

/// Serves `server` until SIGTERM or SIGINT (or until the calling task is cancelled): every connection is read on
/// its own child task, connections lost with a dead listener are logged, and nothing is left running on return.
func serveIngest(
    _ server: SRTServer,
    logger: Logger,
    onMessage: @escaping @Sendable (SRTConnection, [UInt8]) async -> Void
) async throws {
    let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await withThrowingDiscardingTaskGroup { tasks in
        tasks.addTask { try await group.run() }
        tasks.addTask {
            // One batch per listener death; these connections were already closed for you.
            for await lost in server.lostConnections {
                logger.warning(
                    "lost \(lost.count) connection(s) with a dead listener",
                    metadata: ["srt.lost": "\(lost.map(\.streamID))"])
            }
        }
        // Ends when the server stops: a signal, cancellation, or a fatal error.
        for await connection in server.connections {
            tasks.addTask {
                defer { connection.close() }
                do {
                    // Ends quietly after our own close.
                    for try await message in connection.messages {
                        await onMessage(connection, message)
                    }
                } catch is CancellationError {
                    // The server is stopping.
                } catch {
                    // The caller went away (2001), or its UDP socket died with the listener.
                    logger.info("\(connection) ended: \(error)")
                }
            }
        }
        // The server stopped: stop reading the connections that are still open.
        tasks.cancelAll()
    }
}

/// The program around it (`@main` in the article; a test cannot have one).
enum IngestProgram {
    static func main() async {
        let logger = Logger(label: "ingest")
        // Before the first socket: libsrt's own messages go to this logger from now on.
        SRTRuntime.start(logger: logger, logLevel: .warning)
        var status: Int32 = 0
        do {
            // The port from the environment, 9710 when unset.
            let port = ProcessInfo.processInfo.environment["INGEST_PORT"].flatMap { Int($0) } ?? 9710
            let configuration = try SRTListenerConfiguration(host: "127.0.0.1", port: port)
            let server = SRTServer(configuration: configuration, logger: logger)
            try await serveIngest(server, logger: logger) { connection, message in
                logger.debug("\(message.count) bytes from \(connection.streamID)")
            }
        } catch {
            logger.critical("the SRT server stopped for good: \(error)")
            status = 1
        }
        // Never plain exit() after a receive-thread death: libsrt's cleanup would spin forever.
        SRTRuntime.exit(status)
    }
}

// MARK: - Tests that run the example

extension Loopback {
    @Suite("The DocC example runs")
    struct DocumentationExampleTests {
        @Test("serveIngest: messages reach the handler, a broken caller ends its task, cancellation ends it all")
        func serves() async throws {
            let handler = InMemoryLogHandler()
            var logger = Logger(label: "ingest") { _ in handler }
            logger.logLevel = .debug
            let server = SRTServer(configuration: try TestSupport.loopback(), logger: logger)
            let received = Mutex<[String: [[UInt8]]]>([:])
            let serving = Task {
                try await serveIngest(server, logger: logger) { connection, message in
                    received.withLock { $0[connection.streamID, default: []].append(message) }
                }
            }
            #expect(await TestSupport.eventually(within: .seconds(3)) { server.supervisor.state.isReady })
            let address = try #require(server.localAddress)
            let cameras = try await (0..<3).asyncMap { index in
                try await SRTConnection.connect(
                    try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "cam\(index)"))
            }
            for (index, camera) in cameras.enumerated() {
                for round in 0..<4 { try await camera.send([UInt8(index), UInt8(round)]) }
            }
            let all = await TestSupport.eventually(within: .seconds(3)) {
                received.withLock { $0.values.map(\.count) } == [4, 4, 4]
            }
            #expect(all, "\(received.withLock { $0 })")
            #expect(received.withLock { $0["cam1"] } == (0..<4).map { [1, UInt8($0)] })

            // A caller that goes away ends only its own task, with a log line.
            cameras[0].close()
            let ended = await TestSupport.eventually(within: .seconds(5)) {
                handler.entries.contains { "\($0.message)".contains("stream id \"cam0\"") }
            }
            #expect(ended)
            try await cameras[1].send([9])
            #expect(
                await TestSupport.eventually(within: .seconds(3)) { received.withLock { $0["cam1"]?.count } == 5 })

            // Cancellation (what a ServiceGroup above this one would do) ends the server and every reader.
            let stopping = ContinuousClock.now
            serving.cancel()
            try await TestSupport.within(.seconds(2)) { try await serving.value }
            print("DOC-EXAMPLE cancel → serveIngest returned in \(stopping.duration(to: .now))")
            #expect(stopping.duration(to: .now) < .seconds(1))
            for camera in cameras { camera.close() }
        }

        @Test("SRTError's classification example: the held port restarts, the strict classifier keeps the table")
        func classificationExample() throws {
            let configuration = try SRTListenerConfiguration(host: "127.0.0.1", port: 0)
            // The doc comment's lines, as written there.
            let held = SRTError(code: .socketFailure, systemErrno: EADDRINUSE, operation: .bind)
            #expect(held.failureDecision == .restart)
            let strict = FailureClassifier.firstMatch([.selfClassifying, .always(.giveUp)])
            let server = SRTServer(configuration: configuration, policy: try RestartPolicy(classifier: strict))
            #expect(server.supervisor.policy.classifier.classify(held) == .restart)
            let denied = SRTError(code: .socketFailure, systemErrno: EACCES, operation: .bind)
            #expect(server.supervisor.policy.classifier.classify(denied) == .giveUp)
            #expect(server.supervisor.policy.classifier.classify(CancellationError()) == .giveUp)

            // And the doc comment still shows these lines.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            let source = try String(
                contentsOf: root.appendingPathComponent("Adapters/SRTAdapter/Errors/SRTError+Classification.swift"),
                encoding: .utf8)
            for line in [
                "let held = SRTError(code: .socketFailure, systemErrno: EADDRINUSE, operation: .bind)",
                "let strict = FailureClassifier.firstMatch([.selfClassifying, .always(.giveUp)])",
                "let server = SRTServer(configuration: configuration, policy: try RestartPolicy(classifier: strict))",
            ] {
                #expect(source.contains("/// " + line), "the example no longer shows: \(line)")
            }
        }

        @Test("the article shows exactly this code")
        func articleMatches() throws {
            let tests = URL(fileURLWithPath: #filePath)
            let root = tests.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let article = try String(
                contentsOf: root.appendingPathComponent(
                    "Adapters/SRTAdapter/Documentation.docc/KeepingAnSRTListenerAlive.md"),
                encoding: .utf8)
            let source = try String(contentsOf: tests, encoding: .utf8)
            let start = try #require(source.range(of: "// MARK: - The example of the article"))
            let end = try #require(source.range(of: "// MARK: - Tests that run the example"))
            let code = String(source[start.upperBound..<end.lowerBound])
                .split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
                .replacingOccurrences(of: " (`@main` in the article; a test cannot have one)", with: "")
                .replacingOccurrences(of: "enum IngestProgram {", with: "@main\nenum IngestProgram {")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(code.contains("func serveIngest("))
            #expect(article.contains(code), "the article's example differs from the tested code")
        }

        @Test("the whole program: a listener death is survived and logged, SIGTERM ends it, SRTRuntime.exit leaves")
        func program() async throws {
            let started = ContinuousClock.now
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await DocumentationExampleScenario.run()
            }
            TestSupport.expectChild(result, marker: "DOC-EXAMPLE")
            #expect(started.duration(to: .now) < .seconds(20))
        }
    }
}

/// The child process: the article's `serveIngest` on a server whose listener dies (fault B), then SIGTERM; the
/// process leaves through ``SRTRuntime/exit(_:)`` although a receive thread died.
enum DocumentationExampleScenario {
    static func run() async -> Never {
        let check = SocketReplacedScenario.check
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "ingest") { _ in handler }
        SRTRuntime.start(logger: logger, logLevel: .warning)
        var status: Int32 = 0
        do {
            let policy = try RestartPolicy(
                backoff: Backoff.exponential(initial: .milliseconds(5), multiplier: 2, maximum: .seconds(1)))
            let server = SRTServer(configuration: try TestSupport.loopback(), policy: policy, logger: logger)
            let received = Inbox()
            let driver = Task {
                try await drive(server, received: received, handler: handler)
            }
            try await serveIngest(server, logger: logger) { connection, _ in
                received.streamIDs.withLock { $0.append(connection.streamID) }
            }
            try await driver.value
            check(SRTRuntime.hasSeenReceiveThreadDeath, "a receive thread died in this process")
            print("DOC-EXAMPLE serveIngest returned after SIGTERM")
        } catch {
            print("FAIL: \(error)")
            status = 2
        }
        print(status == 0 ? "DOC-EXAMPLE OK" : "DOC-EXAMPLE FAILED")
        SRTRuntime.exit(status)
    }

    /// Plays the callers and the operator: data before and after a listener death, then SIGTERM.
    static func drive(
        _ server: SRTServer, received: Inbox, handler: InMemoryLogHandler
    ) async throws {
        let check = SocketReplacedScenario.check
        let ready = await TestSupport.eventually(within: .seconds(3)) { server.supervisor.state.isReady }
        check(ready, "server ready")
        let address = try server.localAddress.orThrow("address")
        let before = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "before"))
        try await before.send([1])
        let receivedBefore = await TestSupport.eventually { received.streamIDs.withLock { $0.contains("before") } }
        check(receivedBefore, "data before the fault")

        // Fault B: the listener's UDP socket becomes /dev/null; its receive thread dies.
        let listener = try server.supervisor.resource.current.orThrow("listener")
        check(csrt_retire_fd(listener.udpDescriptor) == 0, "dup2")
        let logged = await TestSupport.eventually(within: .seconds(3)) {
            handler.entries.contains { "\($0.message)".contains("lost 1 connection(s) with a dead listener") }
        }
        check(logged, "the lost connection is logged by the example")
        let fresh = await TestSupport.eventually(within: .seconds(3)) {
            server.supervisor.state.isReady && server.supervisor.resource.current !== listener
        }
        check(fresh, "a fresh listener")

        let after = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: address.host, port: address.port, streamID: "after"))
        try await after.send([2])
        let receivedAfter = await TestSupport.eventually { received.streamIDs.withLock { $0.contains("after") } }
        check(receivedAfter, "data after the fault")
        print("DOC-EXAMPLE received from \(received.streamIDs.withLock { $0 })")

        kill(getpid(), SIGTERM)
        before.close()
        after.close()
    }
}

/// The stream ids the child's handler saw.
final class Inbox: Sendable {
    let streamIDs = Mutex<[String]>([])
}

extension Sequence where Element: Sendable {
    /// `map` with an `async` transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
