import CSRT
import InMemoryLogging
import Logging
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// Encryption and access control end to end through ``SRTServer``: what a caller sees, that the server neither
    /// restarts nor stops for a refused caller, and that the passphrase is never printed.
    @Suite("SRTServer: encryption and access")
    struct SRTServerSecurityTests {
        static let secret = "Sup3r-Secret-Passphrase-7781"

        /// A running server; `body` gets it with its address and its connection iterator; the server is stopped
        /// afterwards and must not have failed once.
        static func withServer(
            _ configuration: SRTListenerConfiguration, logger: Logger = Logger(label: "srt.server"),
            _ body: (SRTServer, SRTAddress, inout AsyncStream<SRTConnection>.Iterator) async throws -> Void
        ) async throws {
            let server = SRTServer(configuration: configuration, logger: logger)
            let recorded = EventLog()
            let events = server.supervisor.events()
            let recorder = Task {
                for await event in events { recorded.append(event) }
            }
            let running = Task { try await server.run() }
            defer {
                running.cancel()
                recorder.cancel()
            }
            #expect(await TestSupport.eventually(within: .seconds(5)) { server.supervisor.state.isReady })
            let address = try #require(server.localAddress)
            var connections = server.connections.makeAsyncIterator()
            try await body(server, address, &connections)
            // A refused caller is the caller's failure: the listener never restarted for it, and still answers.
            let failures = recorded.failures.filter { ($0.error as? SRTError)?.code != .restartRequested }
            #expect(failures.isEmpty, "\(failures)")
            let listener = try #require(server.supervisor.resource.current)
            #expect(await listener.probe().isAlive)
            running.cancel()
            try await running.value
        }

        static func caller(
            _ address: SRTAddress, streamID: String = "", passphrase: SRTPassphrase? = nil,
            enforcedEncryption: Bool = true
        ) throws -> SRTCallerConfiguration {
            try SRTCallerConfiguration(
                host: address.host, port: address.port, streamID: streamID, latency: .milliseconds(40),
                passphrase: passphrase, enforcedEncryption: enforcedEncryption, connectTimeout: .seconds(2))
        }

        @Test("the matching passphrase transfers both ways, with every key length", arguments: [16, 24, 32])
        func matchingPassphrase(keyBytes: Int) async throws {
            let passphrase = try SRTPassphrase(Self.secret)
            let keyLength = try SRTKeyLength(bytes: keyBytes)
            let configuration = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: passphrase, keyLength: keyLength)
            try await Self.withServer(configuration) { _, address, connections in
                let caller = try await SRTConnection.connect(
                    try SRTCallerConfiguration(
                        host: address.host, port: address.port, streamID: "enc", latency: .milliseconds(40),
                        passphrase: passphrase, keyLength: keyLength))
                defer { caller.close() }
                let accepted = try #require(await connections.next())
                defer { accepted.close() }
                let message = (0..<1316).map { UInt8(truncatingIfNeeded: $0 &* 13) }
                try await caller.send(message)
                #expect(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == message)
                try await accepted.send(Array("back".utf8))
                #expect(try await TestSupport.within(.seconds(3)) { try await caller.receive() } == Array("back".utf8))
            }
        }

        @Test("a wrong passphrase is rejected (bad secret, per connection); the server goes on")
        func wrongPassphrase() async throws {
            let configuration = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: SRTPassphrase(Self.secret))
            try await Self.withServer(configuration) { _, address, connections in
                let error = await #expect(throws: SRTError.self) {
                    _ = try await SRTConnection.connect(
                        Self.caller(address, passphrase: try SRTPassphrase("not-the-right-passphrase")))
                }
                #expect(error?.code == .connectionRejected)
                #expect(error?.rejectReason == Int32(SRT_REJ_BADSECRET.rawValue))
                #expect(error?.isPerConnection == true)
                // The right one still gets in afterwards.
                let caller = try await SRTConnection.connect(
                    Self.caller(address, passphrase: try SRTPassphrase(Self.secret)))
                defer { caller.close() }
                let accepted = try #require(await connections.next())
                accepted.close()
            }
        }

        @Test(
            "an access decision's passphrase is the one that caller must use; others keep the listener's",
            .timeLimit(.minutes(1)), arguments: [false, true])
        func passphrasePerCaller(immediate: Bool) async throws {
            let own = try SRTPassphrase("the-secret-of-stream-a")
            let decide: @Sendable (SRTAccessRequest) -> SRTAccessDecision = { request in
                request.streamID == "a" ? .accept(passphrase: own) : .accept
            }
            let access = immediate ? SRTAccessControl.immediate(decide) : SRTAccessControl(decide)
            // Without a listener passphrase: stream a is encrypted with its own, others are plain.
            let plain = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), accessControl: access)
            try await Self.withServer(plain) { _, address, connections in
                let caller = try await SRTConnection.connect(Self.caller(address, streamID: "a", passphrase: own))
                defer { caller.close() }
                let accepted = try #require(await connections.next())
                defer { accepted.close() }
                let message = (0..<1316).map { UInt8(truncatingIfNeeded: $0 &* 7) }
                try await caller.send(message)
                #expect(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == message)
                for wrong in [nil, try SRTPassphrase(Self.secret)] {
                    let error = await #expect(throws: SRTError.self) {
                        _ = try await SRTConnection.connect(Self.caller(address, streamID: "a", passphrase: wrong))
                    }
                    #expect(error?.code == .connectionRejected)
                    #expect(error?.isPerConnection == true)
                }
                let other = try await SRTConnection.connect(Self.caller(address, streamID: "b"))
                try #require(await connections.next()).close()
                other.close()
                // The other stream's secret does not open stream b.
                await #expect(throws: SRTError.self) {
                    _ = try await SRTConnection.connect(Self.caller(address, streamID: "b", passphrase: own))
                }
            }
            // With a listener passphrase: stream a's replaces it for stream a alone.
            let encrypted = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: SRTPassphrase(Self.secret),
                accessControl: access)
            try await Self.withServer(encrypted) { _, address, connections in
                let error = await #expect(throws: SRTError.self) {
                    _ = try await SRTConnection.connect(
                        Self.caller(address, streamID: "a", passphrase: try SRTPassphrase(Self.secret)))
                }
                #expect(error?.rejectReason == Int32(SRT_REJ_BADSECRET.rawValue))
                let caller = try await SRTConnection.connect(Self.caller(address, streamID: "a", passphrase: own))
                try #require(await connections.next()).close()
                caller.close()
                let other = try await SRTConnection.connect(
                    Self.caller(address, streamID: "b", passphrase: try SRTPassphrase(Self.secret)))
                try #require(await connections.next()).close()
                other.close()
            }
        }

        @Test("enforced encryption rejects a plain caller (unsecure); without enforcement the listener lets it in")
        func enforcedEncryption() async throws {
            let enforced = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: SRTPassphrase(Self.secret))
            try await Self.withServer(enforced) { _, address, _ in
                let error = await #expect(throws: SRTError.self) {
                    _ = try await SRTConnection.connect(Self.caller(address, enforcedEncryption: false))
                }
                #expect(error?.code == .connectionRejected)
                #expect(error?.rejectReason == Int32(SRT_REJ_UNSECURE.rawValue))
            }
            // The contrast: with enforcement off on both sides a plain caller connects (its data stays
            // undecryptable for the listener, which is what enforcement is for).
            let lax = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: SRTPassphrase(Self.secret),
                enforcedEncryption: false)
            try await Self.withServer(lax) { _, address, connections in
                let caller = try await SRTConnection.connect(Self.caller(address, enforcedEncryption: false))
                defer { caller.close() }
                let accepted = try #require(await connections.next())
                accepted.close()
            }
        }

        @Test(
            "the stream-id callback rejects with the chosen reason and the caller sees exactly that reason",
            arguments: [SRTRejectReason.forbidden, .notFound, .unauthorized, try! SRTRejectReason(code: 2_404)])
        func accessControl(reason: SRTRejectReason) async throws {
            let asked = Mutex<[String]>([])
            let configuration = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40),
                accessControl: try SRTAccessControl(deadline: TestSupport.accessDeadline) { request in
                    asked.withLock { $0.append(request.streamID) }
                    return request.streamID.hasPrefix("publish/") ? .accept : .reject(reason)
                })
            try await Self.withServer(configuration) { _, address, connections in
                let error = await #expect(throws: SRTError.self) {
                    _ = try await SRTConnection.connect(Self.caller(address, streamID: "play/secret-room"))
                }
                #expect(error?.code == .connectionRejected)
                #expect(error?.rejectReason == reason.code)
                #expect(error?.isPerConnection == true)
                #expect(error?.failureDecision == .restart)

                let caller = try await SRTConnection.connect(Self.caller(address, streamID: "publish/cam1"))
                defer { caller.close() }
                let accepted = try #require(await connections.next())
                defer { accepted.close() }
                #expect(accepted.streamID == "publish/cam1")
                try await caller.send([7])
                #expect(try await TestSupport.within(.seconds(3)) { try await accepted.receive() } == [7])
            }
            // The server's own probes never reach the callback.
            #expect(asked.withLock { $0 } == ["play/secret-room", "publish/cam1"])
        }

        @Test("the passphrase appears in no log line (libsrt's included, at debug), description or error")
        func passphraseNeverPrinted() async throws {
            let handler = InMemoryLogHandler()
            var capture = Logger(label: "capture") { _ in handler }
            capture.logLevel = .trace
            // libsrt's own messages, at its most verbose level, go to the capture too; restored afterwards.
            SRTRuntime.start(logger: capture, logLevel: .debug)
            defer { SRTRuntime.start(logger: Logger(label: "srt"), logLevel: .error) }

            let passphrase = try SRTPassphrase(Self.secret)
            let wrong = "Wrong-Passphrase-For-Test-9931"
            let configuration = try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: passphrase, keyLength: .aes256,
                accessControl: try SRTAccessControl(deadline: TestSupport.accessDeadline) {
                    $0.streamID == "denied" ? .reject(.forbidden) : .accept
                })
            var texts = ["\(configuration)", String(reflecting: configuration)]
            try await Self.withServer(configuration, logger: capture) { server, address, connections in
                let good = try Self.caller(address, passphrase: passphrase)
                texts += ["\(good)", String(reflecting: good)]
                let caller = try await SRTConnection.connect(good)
                defer { caller.close() }
                let accepted = try #require(await connections.next())
                defer { accepted.close() }
                try await caller.send(Array("hello".utf8))
                _ = try await TestSupport.within(.seconds(3)) { try await accepted.receive() }
                texts += ["\(caller)", "\(accepted)", "\(server.supervisor.state)"]

                for bad in [
                    try Self.caller(address, passphrase: try SRTPassphrase(wrong)),
                    try Self.caller(address),
                    try Self.caller(address, streamID: "denied", passphrase: passphrase),
                ] {
                    do {
                        let connection = try await SRTConnection.connect(bad)
                        connection.close()
                        Issue.record("\(bad) connected")
                    } catch {
                        texts += ["\(error)", String(reflecting: error)]
                    }
                }
                // A restart on purpose logs the listener's configuration path too; wait for the next run, which
                // keeps the same listener.
                #expect(await TestSupport.eventually { server.supervisor.resource.takesRestartRequests })
                let events = server.supervisor.events()
                server.restartListener()
                let failed = try await SRTServerTests.waitFor(events, within: .seconds(3)) { event in
                    if case .failed = event { true } else { false }
                }
                texts.append("\(failed)")
                _ = try await SRTServerTests.waitFor(events, within: .seconds(3), SRTServerTests.isReady)
            }
            let logged = handler.entries.map { entry in "\(entry.message) \(entry.metadata)" }
            #expect(logged.count > 5, "the capture saw the server's and libsrt's lines")
            for text in texts + logged {
                #expect(!text.contains(Self.secret), "\(text)")
                #expect(!text.contains(wrong), "\(text)")
            }
        }
    }
}
