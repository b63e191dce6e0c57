import Supervisor
import Testing

@testable import SRTAdapter

@Suite("SRT configuration validation")
struct SRTConfigurationTests {
    @Test("valid hosts and ports", arguments: ["127.0.0.1", "0.0.0.0", "::1", "::", "fe80::1", "10.1.2.3"])
    func validHosts(host: String) throws {
        let address = try SRTAddress(host: host, port: 9000)
        #expect(address.port == 9000)
        #expect(address.description == (host.contains(":") ? "[\(host)]:9000" : "\(host):9000"))
    }

    @Test("invalid hosts", arguments: ["localhost", "", "256.1.1.1", "1.2.3", "::g", "example.com", "127.0.0.1\0"])
    func invalidHosts(host: String) {
        let error = #expect(throws: ConfigurationError.self) { try SRTAddress(host: host, port: 1) }
        #expect(error?.option == "host")
    }

    @Test("invalid ports", arguments: [-1, 65_536, Int.max, Int.min])
    func invalidPorts(port: Int) {
        let error = #expect(throws: ConfigurationError.self) { try SRTAddress(host: "127.0.0.1", port: port) }
        #expect(error?.option == "port")
        #expect(error?.code == .outOfRange)
    }

    @Test("listener options out of range name the option")
    func listenerOptions() {
        func option(_ body: () throws -> SRTListenerConfiguration) -> String? {
            do {
                _ = try body()
                return nil
            } catch {
                return (error as? ConfigurationError)?.option ?? "\(error)"
            }
        }
        #expect(option { try .init(host: "127.0.0.1", port: 1, latency: .milliseconds(-1)) } == "latency")
        #expect(option { try .init(host: "127.0.0.1", port: 1, latency: .seconds(61)) } == "latency")
        #expect(option { try .init(host: "127.0.0.1", port: 1, payloadSize: 0) } == "payloadSize")
        #expect(option { try .init(host: "127.0.0.1", port: 1, payloadSize: 1457) } == "payloadSize")
        #expect(option { try .init(host: "127.0.0.1", port: 1, backlog: 0) } == "backlog")
        #expect(option { try .init(host: "127.0.0.1", port: 1, backlog: 5000) } == "backlog")
        #expect(option { try .init(host: "127.0.0.1", port: 1, maxConnections: 0) } == "maxConnections")
        #expect(option { try .init(host: "nope", port: 1) } == "host")
        #expect(option { try .init(host: "127.0.0.1", port: 70_000) } == "port")
        #expect(option { try .init(host: "::1", port: 0, payloadSize: 1456, backlog: 4096) } == nil)
    }

    @Test("caller options out of range name the option")
    func callerOptions() {
        #expect(throws: ConfigurationError.self) {
            try SRTCallerConfiguration(host: "127.0.0.1", port: 1, streamID: String(repeating: "x", count: 513))
        }
        #expect(throws: ConfigurationError.self) {
            try SRTCallerConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .zero)
        }
        #expect(throws: Never.self) {
            try SRTCallerConfiguration(host: "::1", port: 1, streamID: String(repeating: "x", count: 512))
        }
    }

    @Test("passphrases of 10 to 79 bytes only", arguments: [0, 9, 80, 200])
    func passphraseLength(length: Int) {
        let error = #expect(throws: ConfigurationError.self) {
            try SRTPassphrase(String(repeating: "s", count: length))
        }
        #expect(error?.option == "passphrase")
        #expect(error?.description.contains("got \(length)") == true)
        #expect(error?.description.contains(String(repeating: "s", count: max(length, 1))) == (length == 0))
    }

    @Test("a passphrase never appears in descriptions, dumps, configurations or errors")
    func passphraseHidden() throws {
        let secret = "TopSecret-Passphrase-42"
        let passphrase = try SRTPassphrase(secret)
        var dumped = ""
        dump(passphrase, to: &dumped)
        let configuration = try SRTListenerConfiguration(
            host: "127.0.0.1", port: 1, passphrase: passphrase, keyLength: .aes256)
        var dumpedConfiguration = ""
        dump(configuration, to: &dumpedConfiguration)
        let texts = [
            "\(passphrase)", String(reflecting: passphrase), dumped, "\(configuration)", dumpedConfiguration,
            String(reflecting: configuration),
        ]
        for text in texts { #expect(!text.contains(secret), "\(text)") }
        #expect("\(configuration)".contains("AES-256"))
        #expect("\(passphrase)" == "<passphrase, 23 bytes>")
    }

    @Test("key lengths 16, 24, 32 only", arguments: [0, 8, 15, 17, 31, 33, 64])
    func keyLength(bytes: Int) {
        #expect(throws: ConfigurationError.self) { try SRTKeyLength(bytes: bytes) }
    }

    @Test("valid key lengths")
    func validKeyLengths() throws {
        #expect(try SRTKeyLength(bytes: 16) == .aes128)
        #expect(try SRTKeyLength(bytes: 24) == .aes192)
        #expect(try SRTKeyLength(bytes: 32) == .aes256)
    }

    @Test("reject reasons: 1000-2998; 2999 is the probe's")
    func rejectReasons() throws {
        #expect(try SRTRejectReason(code: 1403) == .forbidden)
        #expect(try SRTRejectReason(code: 2998).code == 2998)
        for code: Int32 in [0, 16, 999, 2999, 3000] {
            #expect(throws: ConfigurationError.self) { try SRTRejectReason(code: code) }
        }
    }

    @Test("health check values out of range name the option")
    func healthCheck() throws {
        func option(_ body: () throws -> SRTHealthCheck) -> String? {
            do {
                _ = try body()
                return nil
            } catch {
                return (error as? ConfigurationError)?.option ?? "\(error)"
            }
        }
        #expect(option { try SRTHealthCheck(probeInterval: .milliseconds(5)) } == "probeInterval")
        #expect(option { try SRTHealthCheck(probeTimeout: .seconds(601)) } == "probeTimeout")
        #expect(option { try SRTHealthCheck(deathProbeTimeout: .zero) } == "deathProbeTimeout")
        #expect(option { try SRTHealthCheck(failedProbesBeforeDead: 0) } == "failedProbesBeforeDead")
        #expect(option { try SRTHealthCheck(quickCheckInterval: .milliseconds(9)) } == "quickCheckInterval")
        #expect(option { try SRTHealthCheck(quickCheckInterval: .seconds(-1)) } == "quickCheckInterval")
        #expect(SRTHealthCheck.standard.deathProbeTimeout == .milliseconds(100))
        #expect(SRTHealthCheck.standard.failedProbesBeforeDead == 2)
    }

    @Test("an access deadline as long as a probe timeout lengthens that timeout by the deadline; shorter ones do not")
    func probeTimeoutsBehindAccessDeadline() throws {
        let standard = SRTHealthCheck.standard
        #expect(standard.timeouts(behind: nil) == (.milliseconds(500), .milliseconds(100)))
        #expect(standard.timeouts(behind: SRTAccessControl.defaultDeadline) == (.milliseconds(500), .milliseconds(100)))
        #expect(standard.timeouts(behind: .milliseconds(100)) == (.milliseconds(500), .milliseconds(200)))
        #expect(standard.timeouts(behind: .milliseconds(800)) == (.milliseconds(1_300), .milliseconds(900)))
        // Every deadline an access control accepts leaves both probes at least that long past it.
        for deadline in [SRTAccessControl.deadlineRange.lowerBound, .milliseconds(250), .seconds(1)] {
            let health = try SRTHealthCheck(probeTimeout: .milliseconds(10), deathProbeTimeout: .milliseconds(10))
            let (probe, death) = health.timeouts(behind: deadline)
            #expect(probe > deadline && death > deadline)
        }
    }
}
