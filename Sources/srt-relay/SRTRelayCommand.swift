import ArgumentParser
import Logging
import SRTAdapter
import ServiceLifecycle
import Supervisor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `srt-relay`: listens for SRT publishers and records each stream to a file, or relays it to a UDP address;
/// the listener is supervised (backoff, jitter, restart intensity) and survives the faults of
/// `Docs/libsrt-failure-modes.md`.
///
/// ```sh
/// srt-relay                                   # record to recordings/<stream id>-<UTC time>.ts, port 9000
/// srt-relay --forward udp://127.0.0.1:5000    # relay every publisher to one UDP address
/// SRT_PASSPHRASE=... srt-relay --passphrase-env SRT_PASSPHRASE --allow cam1 --allow cam2 --json
/// ```
@main
struct SRTRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srt-relay",
        abstract: "Record SRT publishers to files, or relay them to UDP, with a listener that recovers by itself.",
        discussion: """
            Publish with: srt-live-transmit file://con "srt://127.0.0.1:9000?mode=caller&streamid=cam1" < input.ts
            Invalid options exit with 64 (EX_USAGE); SIGINT and SIGTERM close every recording and exit with 0.
            Past --max-leaked-multiplexers, every recording is closed and the relay exits with 75 (EX_TEMPFAIL), \
            for systemd or Kubernetes to start a fresh process.
            """)

    @Option(name: .long, help: "Where to listen: HOST:PORT, [IPv6]:PORT, HOST or PORT (numeric addresses only).")
    var listen = "0.0.0.0:9000"

    @Option(name: .long, help: ArgumentHelp("The directory recordings go to.", valueName: "directory"))
    var output = "recordings"

    @Option(name: .long, help: ArgumentHelp("Relay to udp://HOST:PORT instead of recording.", valueName: "url"))
    var forward: String?

    @Option(name: .long, help: ArgumentHelp("The SRT latency in milliseconds (0...60000).", valueName: "ms"))
    var latency = 120

    @Option(name: .long, help: ArgumentHelp("Read the passphrase from this environment variable.", valueName: "name"))
    var passphraseEnv: String?

    @Option(name: .long, help: ArgumentHelp("Read the passphrase from this file (one line).", valueName: "path"))
    var passphraseFile: String?

    @Option(name: .long, help: ArgumentHelp("The AES key length with a passphrase: 16, 24 or 32.", valueName: "bytes"))
    var keyLength = 16

    @Option(
        name: .long, help: ArgumentHelp("Accept only this stream id (repeatable); all when absent.", valueName: "id"))
    var allow: [String] = []

    @Option(name: .long, help: "Refuse publishers beyond this many open connections.")
    var maxConnections = 64

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Exit with 75 once libsrt keeps more dead multiplexers than this (each about 1.4 MiB, a thread and a "
                + "descriptor, for the life of the process).", valueName: "count"))
    var maxLeakedMultiplexers = RelaySettings.defaultMaxLeakedMultiplexers

    @OptionGroup(title: "Restarts")
    var restarts: RestartOptions

    @OptionGroup(title: "Recordings")
    var recordings: RecordingFlags

    @OptionGroup(title: "Streams")
    var streamFlags: StreamFlags

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Per-stream passphrases, networks and limits from this JSON file; SIGHUP reloads it (see "
                + "Docs/srt-relay.md).", valueName: "path"))
    var config: String?

    @Flag(name: .long, help: "Print JSON lines instead of text.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Seconds between status lines; 0 for none.", valueName: "seconds"))
    var statusInterval: Double = 10

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Every so many seconds, kill the listener's UDP receive thread (its socket replaced by /dev/null).",
            valueName: "seconds"))
    var chaos: Double?

    @Flag(
        name: .long,
        help: "Kill the listener's UDP receive thread whenever the process receives SIGUSR1 (tests, demos).")
    var chaosOnSignal = false

    @Option(
        name: .long,
        help: ArgumentHelp("Serve Prometheus /metrics and /healthz over HTTP on this TCP port.", valueName: "port"))
    var metricsPort: Int?

    @Option(name: .long, help: ArgumentHelp("The address the metrics server binds.", valueName: "host"))
    var metricsAddress = "127.0.0.1"

    @Option(name: .long, help: "The level of the library's own log on standard error (trace...critical).")
    var logLevel = "error"

    /// `EX_USAGE` from sysexits.h: the command was used incorrectly.
    static let usageExitCode: Int32 = 64

    /// Parses, validates (a one-line error and exit code 64 on any mistake), runs, and leaves through
    /// ``SRTRuntime/exit(_:)``, which cannot hang after a dead receive thread.
    static func main() async {
        // A reader of standard output or error that goes away (`srt-relay | head`, a log collector restarting) must
        // not kill the relay and cut every recording: writes then fail with EPIPE, and the lines are dropped.
        signal(SIGPIPE, SIG_IGN)
        let settings: RelaySettings
        do {
            let command = try parse()
            settings = try command.settings()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version: the full text, as usual.
                print(fullMessage(for: error))
                SRTRuntime.exit(0)
            }
            Console.usageError(oneLine(message(for: error)))
            SRTRuntime.exit(usageExitCode)
        }
        let status = await RelayServiceGroup(settings: settings).run()
        SRTRuntime.exit(status)
    }

    /// ArgumentParser's messages may span lines (suggestions); the contract is one line.
    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
