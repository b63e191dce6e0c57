import ArgumentParser
import Logging
import SRTAdapter
import Supervisor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SRTRelayCommand {
    /// Turns the flags into validated settings; every mistake becomes a `ValidationError` naming the flag, so the
    /// user sees one line and the process exits with 64. The passphrase's value never appears in a message.
    func settings() throws -> RelaySettings {
        let (host, port) = try flag("--listen") { () throws(ParseFailure) in
            try ListenAddress.split(listen, defaultPort: 9000)
        }
        let passphrase = try loadPassphrase()
        let key = try flag("--key-length") { () throws(ConfigurationError) in try SRTKeyLength(bytes: keyLength) }
        let allowed = Set(allow)
        let destination: RelaySettings.Destination
        // Only a forwarding relay has a slot (one publisher at a time).
        let slot = forward == nil ? nil : ForwardSlot()
        if let forward, let slot {
            let target = try flag("--forward") { () throws(ParseFailure) in try ForwardTarget(parsing: forward) }
            destination = .forward(target, slot)
        } else {
            guard !output.isEmpty else { throw ValidationError("--output: must not be empty") }
            destination = .record(directory: output)
        }
        let recording = try recordings.options(directory: forward == nil ? output : nil)
        let configuration = try config.map { path in
            do {
                return LiveConfiguration(path: path, configuration: try StreamConfiguration.load(from: path))
            } catch {
                throw ValidationError("--config: \(error)")
            }
        }
        let access = StreamAccess(
            allowed: allowed, slot: slot, space: recording.space, hubs: StreamHubs(),
            streams: try streamFlags.settings(), configuration: configuration)
        // Every decision reads memory (a set, the streams, the slot's and the guard's flags): answered on libsrt's
        // thread, so a starved relay never refuses a caller with 1503 for want of a thread.
        let accessControl = SRTAccessControl.immediate { request in access.decide(request) }
        let listener = try flag("--listen") { () throws(ConfigurationError) in
            try SRTListenerConfiguration(
                host: host, port: port, latency: .milliseconds(latency), passphrase: passphrase,
                keyLength: key, maxConnections: maxConnections, accessControl: accessControl)
        }
        let leakLimit = try flag("--max-leaked-multiplexers") { () throws(ConfigurationError) in
            try SRTLeakLimit(maxLeakedMultiplexers: maxLeakedMultiplexers)
        }
        // 0 turns the lines off; anything else is a period, and one that rounds to no time (1e-320) would spin.
        guard statusInterval == 0 || (statusInterval >= 0.1 && statusInterval <= 86_400) else {
            throw ValidationError("--status-interval: must be 0 (none) or 0.1 to 86400 seconds, got \(statusInterval)")
        }
        if let chaos, !(chaos.isFinite && chaos >= 0.1 && chaos <= 86_400) {
            throw ValidationError("--chaos: must be 0.1 to 86400 seconds, got \(chaos)")
        }
        var metrics: (host: String, port: Int)?
        if let metricsPort {
            guard (1...65_535).contains(metricsPort) else {
                throw ValidationError("--metrics-port: must be 1 to 65535, got \(metricsPort)")
            }
            guard (try? SRTAddress(host: metricsAddress, port: metricsPort)) != nil else {
                throw ValidationError(
                    "--metrics-address: must be a numeric IPv4 or IPv6 address, got \"\(metricsAddress)\"")
            }
            metrics = (metricsAddress, metricsPort)
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: expected trace, debug, info, notice, warning, error or critical")
        }
        return RelaySettings(
            listener: listener,
            policy: try restarts.policy(),
            leakLimit: leakLimit,
            destination: destination,
            recording: recording,
            access: access,
            json: json,
            statusInterval: statusInterval > 0 ? .seconds(statusInterval) : nil,
            chaosPeriod: chaos.map { .seconds($0) },
            chaosOnSignal: chaosOnSignal,
            metrics: metrics,
            logLevel: level,
            isOpenToAnyone: !ListenAddress.isLoopback(host) && passphrase == nil && allowed.isEmpty && config == nil)
    }

    /// The passphrase from `--passphrase-env` or `--passphrase-file` (one of them at most), or `nil`.
    private func loadPassphrase() throws -> SRTPassphrase? {
        let secret: String
        switch (passphraseEnv, passphraseFile) {
        case (nil, nil):
            return nil
        case (.some, .some):
            throw ValidationError("--passphrase-env and --passphrase-file: give one of them, not both")
        case (let name?, nil):
            guard let value = getenv(name) else {
                throw ValidationError("--passphrase-env: the environment variable \(name) is not set")
            }
            secret = String(cString: value)
        case (nil, let path?):
            secret = try flag("--passphrase-file") { () throws(ParseFailure) in try Self.readSecret(path) }
        }
        return try flag("passphrase") { () throws(ConfigurationError) in try SRTPassphrase(secret) }
    }

    /// The first line of a small file, without its line ending.
    static func readSecret(_ path: String) throws(ParseFailure) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ParseFailure("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(descriptor, &bytes, bytes.count)
        guard count >= 0 else { throw ParseFailure("cannot read \(path): \(String(cString: strerror(errno)))") }
        let line = bytes[..<count].prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        return String(decoding: line, as: UTF8.self)
    }
}

/// Runs `body`; a `ConfigurationError` or `ParseFailure` becomes a `ValidationError` that names the flag (the
/// library's option name translated to the flag that set it, else `flag`).
func flag<T, E: Error>(_ flag: String, _ body: () throws(E) -> T) throws -> T {
    do {
        return try body()
    } catch let error as ConfigurationError {
        throw ValidationError("\(flagNames[error.option] ?? flag): \(error.message)")
    } catch {
        throw ValidationError("\(flag): \(error)")
    }
}

/// The library's option names (`ConfigurationError.option`) and the flags that set them.
private let flagNames: [String: String] = [
    "host": "--listen", "port": "--listen", "latency": "--latency", "maxConnections": "--max-connections",
    "passphrase": "passphrase", "keyLength": "--key-length", "initial": "--backoff-initial",
    "base": "--backoff-initial", "median": "--backoff-initial", "first": "--backoff-initial",
    "delay": "--backoff-initial", "increment": "--backoff-initial", "maximum": "--backoff-max",
    "maxRestarts": "--intensity", "period": "--intensity", "probeInterval": "--backoff-max",
    "maxLeakedMultiplexers": "--max-leaked-multiplexers",
]
