import ArgumentParser
import Foundation
import SRTAdapter
import Supervisor
import Testing

@testable import srt_relay

/// Random, often hostile, command lines and flag values into srt-relay's parsing and validation, in-process: each
/// one gives settings that hold their invariants, or a typed error whose message is one line and shows no
/// passphrase. Never a trap (a trap would end the test process).
@Suite("srt-relay argument fuzz")
struct RelayArgumentFuzzTests {
    static let rounds = 10_000

    /// Through the whole parser: ArgumentParser costs about 15 ms a vector in a debug build (its reflection of
    /// the command, then the error's message), so CI takes a sample; `RELAY_FUZZ_VECTORS=10000` runs them all
    /// (129 s).
    static let vectors = ProcessInfo.processInfo.environment["RELAY_FUZZ_VECTORS"].flatMap { Int($0) } ?? 100

    @Test("random argument vectors through the parser: valid settings or a one-line usage error, never a passphrase")
    func argumentVectors() throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        var random = SplitMix64(seed: 0x5E7_2E1A)
        var accepted = 0
        var refused: [String: Int] = [:]
        for _ in 0..<Self.vectors {
            let arguments = RelayArguments.vector(&random, secrets: secrets)
            do {
                let settings = try SRTRelayCommand.parse(arguments).settings()
                try Self.checkInvariants(settings, arguments: "\(arguments)", secrets: secrets)
                accepted += 1
            } catch let failure as InvariantFailure {
                Issue.record("\(failure)")
            } catch {
                let message = Self.checkRefusal(error, arguments: "\(arguments)", secrets: secrets)
                // What main() does with it: 0 only for --help (unless a mistake in the same line is found first),
                // 64 for everything else.
                let help = arguments.contains { ["--help", "-h"].contains($0) }
                let code = SRTRelayCommand.exitCode(for: error).rawValue
                #expect(code == 64 || (help && code == 0), "exit code \(code) for \(arguments): \(message)")
                refused[String(message.prefix { $0 != ":" }), default: 0] += 1
            }
        }
        let summary = refused.sorted { $0.value > $1.value }.prefix(6).map { "\($0.key) \($0.value)" }
        print("argument vectors: \(accepted) of \(Self.vectors) accepted; most refused: \(summary)")
        // Both sides are exercised: some vectors get through to the settings' checks, and most do not.
        #expect(accepted > Self.vectors / 50 && accepted < Self.vectors / 2, "accepted \(accepted)")
    }

    @Test("10,000 random flag values into the settings' validation: valid settings or one-line typed errors")
    func flagValues() throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        // Parsed once; each round then sets random typed values, as the parser would hand them over.
        let base = try SRTRelayCommand.parse([])
        var random = SplitMix64(seed: 0xF1A6)
        var accepted = 0
        for _ in 0..<Self.rounds {
            let command = RelayArguments.command(from: base, &random, secrets: secrets)
            do {
                let settings = try command.settings()
                try Self.checkInvariants(settings, arguments: RelayArguments.describe(command), secrets: secrets)
                accepted += 1
            } catch let failure as InvariantFailure {
                Issue.record("\(failure)")
            } catch {
                guard let validation = error as? ValidationError else {
                    Issue.record("\(type(of: error)) for \(RelayArguments.describe(command)): \(error)")
                    continue
                }
                // What main() prints for a ValidationError (ArgumentParser's message(for:) costs a parse).
                let message = SRTRelayCommand.oneLine(validation.message)
                Self.checkLine(message, arguments: RelayArguments.describe(command), secrets: secrets)
                // Every mistake names its flag (or says passphrase, without its value).
                #expect(
                    message.hasPrefix("--") || message.hasPrefix("passphrase"),
                    "\(message) for \(RelayArguments.describe(command))")
            }
        }
        print("flag values: \(accepted) of \(Self.rounds) accepted")
        #expect(accepted > Self.rounds / 50 && accepted < Self.rounds / 2, "accepted \(accepted)")
    }

    /// The line main() would print for `error`, checked by ``checkLine(_:arguments:secrets:)``.
    static func checkRefusal(_ error: any Error, arguments: String, secrets: Secrets) -> String {
        let message = SRTRelayCommand.oneLine(SRTRelayCommand.message(for: error))
        checkLine(message, arguments: arguments, secrets: secrets)
        return message
    }

    /// One line, not empty, no passphrase.
    static func checkLine(_ message: String, arguments: @autoclosure () -> String, secrets: Secrets) {
        #expect(!message.isEmpty && !message.contains(where: \.isNewline), "\(arguments()): \(message)")
        for secret in secrets.values where message.contains(secret) {
            Issue.record("the passphrase is shown for \(arguments()): \(message)")
        }
    }

    @Test("10,000 random --listen values, udp:// URLs, jitters and intensities into their parsers")
    func valueParsers() {
        var random = SplitMix64(seed: 0xADD2)
        for _ in 0..<Self.rounds {
            let address = RelayArguments.address(&random)
            if let (host, port) = try? ListenAddress.split(address, defaultPort: 9000) {
                // Split only; SRTAddress judges the numbers. Bracketed hosts lose their brackets.
                #expect(!host.hasPrefix("["), "\(address) → \(host)")
                _ = port
            }
            let url = RelayArguments.url(&random)
            if let target = try? ForwardTarget(parsing: url) {
                #expect((1...65_535).contains(target.port), "\(url) → \(target)")
                #expect((try? SRTAddress(host: target.host, port: target.port)) != nil, "\(url) → \(target)")
                #expect((try? ForwardTarget(parsing: target.description)) == target, "\(url) → \(target)")
            }
            let jitter = RelayArguments.jitter(&random)
            _ = try? RestartOptions.jitter(jitter)
            let intensity = RelayArguments.intensity(&random)
            if let limit = try? RestartOptions.intensity(intensity) {
                #expect(limit.maxRestarts >= 0 && limit.period > .zero, "\(intensity) → \(limit)")
            }
        }
    }

    @Test("10,000 random stream ids and numbers into the recording names and the units: safe names, never a trap")
    func namesAndUnits() {
        var random = SplitMix64(seed: 0x7A3E)
        for _ in 0..<Self.rounds {
            let streamID = RelayArguments.text(&random)
            let peer = RelayArguments.address(&random)
            let name = RecordingName.make(
                streamID: streamID, peer: peer, time: "20261129T153005Z", counter: Int(random.next() % 5))
            #expect(!name.hasPrefix(".") && name.hasSuffix(".ts") && name.utf8.count < 255, "\(streamID) → \(name)")
            #expect(
                name.utf8.allSatisfy { $0 < 128 && $0 != UInt8(ascii: "/") && $0 != 0 }, "\(streamID) → \(name)")
            let bytes = [0, 1, 999, 1_000, UInt64.max, random.next()][Int(random.next() % 6)]
            let rate = [
                0, -1, .nan, .infinity, -.infinity, .greatestFiniteMagnitude, 1e30, 999.96, Double(random.next()),
            ][Int(random.next() % 9)]
            let duration = [
                .zero, .nanoseconds(1), .milliseconds(999), .seconds(59.96), .seconds(3_600), .seconds(Int64.max),
                .seconds(Int64.min),
                Duration(secondsComponent: Int64(bitPattern: random.next()), attosecondsComponent: 0),
            ][Int(random.next() % 8)]
            for text in [
                Units.bytes(bytes), Units.bitrate(rate), Units.duration(duration),
                Units.bitrate(Units.bitsPerSecond(bytes, over: duration)),
            ] {
                #expect(!text.isEmpty)
            }
        }
    }

    @Test("the units are total: NaN, infinities, negatives and Duration's extremes print instead of trapping")
    func unitsAtTheEdges() {
        #expect(Units.bitrate(.nan) == "n/a")
        #expect(Units.bitrate(.infinity) == "∞ Gbit/s")
        #expect(Units.bitrate(-4_200_000) == "-4.2 Mbit/s")
        #expect(Units.bitrate(1e30) == "1e+21 Gbit/s")
        #expect(Units.duration(.milliseconds(-850)) == "-850 ms")
        #expect(Units.duration(.seconds(Int64.max)) == "2562047788015215h")
        #expect(Units.duration(.seconds(Int64.min)) == "-2562047788015215h")
    }

    /// What valid settings must hold, whatever the command line was.
    static func checkInvariants(
        _ settings: RelaySettings, arguments: @autoclosure () -> String, secrets: Secrets
    ) throws {
        func require(_ condition: Bool, _ what: String) throws {
            if !condition { throw InvariantFailure(description: "\(what) for \(arguments())") }
        }
        let listener = settings.listener
        try require(
            (try? SRTAddress(host: listener.address.host, port: listener.address.port)) != nil,
            "a valid listen address, got \(listener.address)")
        try require(listener.latency >= .zero && listener.latency <= .seconds(60), "latency \(listener.latency)")
        try require([16, 24, 32].contains(listener.keyLength.bytes), "key length \(listener.keyLength)")
        try require((1...100_000).contains(listener.maxConnections), "max connections \(listener.maxConnections)")
        try require(
            settings.leakLimit.maxLeakedMultiplexers.map { (0...1_000_000).contains($0) } == true,
            "leak limit \(settings.leakLimit)")
        switch settings.destination {
        case .record(let directory):
            try require(!directory.isEmpty, "a recordings directory")
        case .forward(let target, _):
            try require((1...65_535).contains(target.port), "forward port \(target.port)")
            try require((try? ForwardTarget(parsing: target.description)) == target, "forward target \(target)")
        }
        if let interval = settings.statusInterval {
            try require(interval >= .milliseconds(100) && interval <= .seconds(86_400), "status interval \(interval)")
        }
        if let period = settings.chaosPeriod {
            try require(period >= .milliseconds(100) && period <= .seconds(86_400), "chaos period \(period)")
        }
        if let metrics = settings.metrics {
            try require(
                (1...65_535).contains(metrics.port) && (try? SRTAddress(host: metrics.host, port: metrics.port)) != nil,
                "metrics \(metrics)")
        }
        // The policy's delays are real durations: none negative, none past the largest given.
        var schedule = settings.policy.backoff.makeSchedule()
        var generator = SplitMix64(seed: 1)
        for _ in 0..<64 {
            guard let delay = schedule.next(using: &generator) else { break }
            try require(delay >= .zero, "a backoff delay \(delay)")
        }
        let shown = "\(listener) \(String(reflecting: listener))"
        for secret in secrets.values where shown.contains(secret) {
            try require(false, "the passphrase in the settings' description \(shown)")
        }
    }
}

struct InvariantFailure: Error, CustomStringConvertible {
    let description: String
}

/// Passphrases in environment variables and files for the fuzz, with values that cannot appear by chance.
struct Secrets: Sendable {
    /// A valid one (32 characters), one too short, one too long, and one with a line ending after it.
    let values: [String]
    /// Variables that hold them, set once before the rounds (setenv is not safe while other threads read the
    /// environment, so it is never called during them).
    let variables: [String]
    /// Files that hold them.
    let files: [String]
    private let directory: URL

    init() throws {
        var random = SplitMix64(seed: 0x5EC2E7)
        func secret(_ length: Int) -> String {
            "ZQ" + String((0..<length - 2).map { _ in "Z7é9XK3Wµ".randomElement(using: &random)! })
        }
        values = [secret(32), secret(7), secret(90), secret(16)]
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-fuzz-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        variables = values.indices.map { "SRT_RELAY_FUZZ_SECRET_\($0)" }
        for (name, value) in zip(variables, values) { setenv(name, value, 1) }
        var files: [String] = []
        for (index, value) in values.enumerated() {
            let file = directory.appendingPathComponent("secret-\(index)")
            try Data((value + (index == 3 ? "\r\nsecond line\n" : "\n")).utf8).write(to: file)
            files.append(file.path)
        }
        self.files = files
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
