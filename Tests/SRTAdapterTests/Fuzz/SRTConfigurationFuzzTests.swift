import Supervisor
import Testing

@testable import SRTAdapter

/// Random, often hostile, values into the SRT configuration initializers: typed errors or valid values, never a
/// trap, and no passphrase in any description or error.
@Suite("SRT configuration fuzz")
struct SRTConfigurationFuzzTests {
    static let rounds = 10_000

    static func host(_ random: inout SplitMix64) -> String {
        if random.next() % 2 == 0 { return random.next() % 2 == 0 ? "127.0.0.1" : "::1" }
        let hosts = [
            "127.0.0.1", "::1", "0.0.0.0", "::", "localhost", "", " ", "256.1.1.1", "1.2.3", "fe80::1%lo",
            "::ffff:127.0.0.1", "[::1]", "127.0.0.1:9000", "srt://127.0.0.1", "\0", "ünïcødé", "1.1.1.1.1",
            String(repeating: "a", count: 300), String(repeating: "1.", count: 64),
        ]
        if random.next() % 4 == 0 {
            let length = Int(random.next() % 40)
            return String((0..<length).map { _ in Character(UnicodeScalar(UInt8(random.next() % 128))) })
        }
        return hosts[Int(random.next() % UInt64(hosts.count))]
    }

    /// `valid` most of the time, so that whole configurations get built too; otherwise anything.
    static func integer(_ random: inout SplitMix64, valid: Int) -> Int {
        random.next() % 4 == 0 ? integer(&random) : valid
    }

    static func integer(_ random: inout SplitMix64) -> Int {
        [
            Int.min, -1, 0, 1, 16, 24, 32, 64, 1316, 1456, 1457, 4096, 4097, 65_535, 65_536, 100_000, 100_001, Int.max,
            Int(truncatingIfNeeded: random.next()),
        ][Int(random.next() % 19)]
    }

    static func duration(_ random: inout SplitMix64) -> Duration {
        if random.next() % 2 == 0 { return .milliseconds(200) }
        return [
            .zero, .milliseconds(-1), .milliseconds(120), .seconds(60), .seconds(61), .seconds(Int64.max),
            .seconds(Int64.min), .nanoseconds(1),
        ][Int(random.next() % 8)]
    }

    static func text(_ random: inout SplitMix64, upTo limit: Int) -> String {
        let length = Int(random.next() % UInt64(limit + 1))
        var text = ""
        for index in 0..<length {
            let letter = Character(UnicodeScalar(UInt8(97 + index % 26)))
            text.append(index % 7 == 3 ? "é" : letter)
        }
        return text
    }

    @Test("10,000 random listener and caller configurations: typed errors or valid values, passphrase never shown")
    func fuzz() {
        var random = SplitMix64(seed: 0x5A7)
        var built = 0
        var refused = 0
        for _ in 0..<Self.rounds {
            // Random letters and digits, unlike the stream ids (which repeat the alphabet), so a match is a leak.
            let secret = String((0..<Int(random.next() % 101)).map { _ in "ZQ7é9XK3Wµ".randomElement(using: &random)! })
            do {
                let passphrase = random.next() % 3 == 0 ? nil : try SRTPassphrase(secret)
                let keyLength = try SRTKeyLength(bytes: Self.integer(&random, valid: 16))
                let listener = try SRTListenerConfiguration(
                    host: Self.host(&random),
                    port: Self.integer(&random, valid: 9000),
                    latency: Self.duration(&random),
                    passphrase: passphrase,
                    keyLength: keyLength,
                    payloadSize: Self.integer(&random, valid: 1316),
                    backlog: Self.integer(&random, valid: 64),
                    maxConnections: Self.integer(&random, valid: 10)
                )
                let caller = try SRTCallerConfiguration(
                    host: Self.host(&random),
                    port: Self.integer(&random, valid: 9000),
                    streamID: Self.text(&random, upTo: 600),
                    latency: Self.duration(&random),
                    passphrase: passphrase,
                    connectTimeout: Self.duration(&random)
                )
                built += 1
                if secret.count >= 10, passphrase != nil {
                    for shown in [String(describing: listener), String(reflecting: listener), "\(caller)"] {
                        #expect(!shown.contains(secret), "passphrase shown in \(shown)")
                    }
                }
            } catch {
                // Every initializer here throws ConfigurationError only (typed throws).
                refused += 1
                if secret.count >= 10 { #expect(!error.description.contains(secret)) }
            }
        }
        #expect(built > Self.rounds / 100 && refused > Self.rounds / 2, "built \(built), refused \(refused)")
    }
}
