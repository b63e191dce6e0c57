import Supervisor

@testable import srt_relay

/// Random srt-relay command lines and values, from a seeded generator: known flags with valid, edge and hostile
/// values, in both `--flag value` and `--flag=value` forms, unknown and repeated flags, stray words.
///
/// ```swift
/// var random = SplitMix64(seed: 1)
/// let arguments = RelayArguments.vector(&random, secrets: secrets)  // ["--listen", "[::1]:65536", "--json", …]
/// ```
enum RelayArguments {
    /// Options that take a value, each with the generator of its values.
    static let options: [(name: String, value: @Sendable (inout SplitMix64, Secrets) -> String)] = [
        ("--listen", { random, _ in address(&random) }),
        ("--output", { random, _ in text(&random) }),
        ("--forward", { random, _ in url(&random) }),
        ("--latency", { random, _ in integer(&random, valid: "120") }),
        ("--passphrase-env", { random, secrets in variable(&random, secrets) }),
        ("--passphrase-file", { random, secrets in file(&random, secrets) }),
        ("--key-length", { random, _ in integer(&random, valid: ["16", "24", "32"][Int(random.next() % 3)]) }),
        ("--allow", { random, _ in text(&random) }),
        ("--max-connections", { random, _ in integer(&random, valid: "64") }),
        ("--max-leaked-multiplexers", { random, _ in integer(&random, valid: "100") }),
        ("--backoff", { random, _ in kind(&random) }),
        ("--backoff-initial", { random, _ in integer(&random, valid: "50") }),
        ("--backoff-max", { random, _ in integer(&random, valid: "10000") }),
        ("--jitter", { random, _ in jitter(&random) }),
        ("--intensity", { random, _ in intensity(&random) }),
        ("--status-interval", { random, _ in seconds(&random) }),
        ("--chaos", { random, _ in seconds(&random) }),
        ("--metrics-port", { random, _ in integer(&random, valid: "9100") }),
        ("--metrics-address", { random, _ in host(&random) }),
        ("--log-level", { random, _ in level(&random) }),
    ]

    /// Flags without a value.
    static let flags = ["--json", "--chaos-on-signal", "--give-up"]

    /// One command line of 0 to 7 pieces.
    static func vector(_ random: inout SplitMix64, secrets: Secrets) -> [String] {
        var arguments: [String] = []
        for _ in 0..<Int(random.next() % 8) {
            switch random.next() % 100 {
            case 0:
                arguments.append(["--help", "-h"][Int(random.next() % 2)])
            case 1..<6:
                arguments.append(
                    ["--listen-port", "--passphrase", "-l", "--", "-", "---json", "--JSON", "--jsonx"][
                        Int(random.next() % 8)])
            case 6..<10:
                arguments.append(text(&random))
            case 10..<18:
                let flag = flags[Int(random.next() % UInt64(flags.count))]
                // A flag given a value (`--json=yes`) is a mistake too.
                arguments.append(random.next() % 4 == 0 ? "\(flag)=\(text(&random))" : flag)
            default:
                let option = options[Int(random.next() % UInt64(options.count))]
                let value = option.value(&random, secrets)
                switch random.next() % 10 {
                case 0: arguments.append(option.name)  // the value is missing (or is the next flag)
                case 1..<4: arguments.append("\(option.name)=\(value)")
                case 4: arguments += [option.name, value, option.name, option.value(&random, secrets)]
                default: arguments += [option.name, value]
                }
            }
        }
        return arguments
    }

    /// `base` with random typed values in about a third of its flags: what the parser hands over for any line it
    /// accepts (any `Int`, any `Double` including NaN, infinities and subnormals, any string).
    static func command(from base: SRTRelayCommand, _ random: inout SplitMix64, secrets: Secrets) -> SRTRelayCommand {
        var command = base
        func maybe(_ random: inout SplitMix64) -> Bool { random.next() % 3 == 0 }
        if maybe(&random) { command.listen = address(&random) }
        if maybe(&random) { command.output = text(&random) }
        if maybe(&random) { command.forward = random.next() % 4 == 0 ? nil : url(&random) }
        if maybe(&random) { command.latency = anyInt(&random) }
        if maybe(&random) { command.passphraseEnv = variable(&random, secrets) }
        if maybe(&random) { command.passphraseFile = file(&random, secrets) }
        if maybe(&random) { command.keyLength = anyInt(&random) }
        if maybe(&random) { command.allow = (0..<Int(random.next() % 3)).map { _ in text(&random) } }
        if maybe(&random) { command.maxConnections = anyInt(&random) }
        if maybe(&random) { command.maxLeakedMultiplexers = anyInt(&random) }
        if maybe(&random) { command.restarts.backoff = BackoffKind.allCases[Int(random.next() % 6)] }
        if maybe(&random) { command.restarts.backoffInitial = anyInt(&random) }
        if maybe(&random) { command.restarts.backoffMax = anyInt(&random) }
        if maybe(&random) { command.restarts.jitter = jitter(&random) }
        if maybe(&random) { command.restarts.intensity = intensity(&random) }
        if maybe(&random) { command.restarts.giveUp.toggle() }
        if maybe(&random) { command.json.toggle() }
        if maybe(&random) { command.statusInterval = anyDouble(&random) }
        if maybe(&random) { command.chaos = random.next() % 4 == 0 ? nil : anyDouble(&random) }
        if maybe(&random) { command.chaosOnSignal.toggle() }
        if maybe(&random) { command.metricsPort = random.next() % 4 == 0 ? nil : anyInt(&random) }
        if maybe(&random) { command.metricsAddress = host(&random) }
        if maybe(&random) { command.logLevel = level(&random) }
        return command
    }

    /// The flags of `command`, for failure messages.
    static func describe(_ command: SRTRelayCommand) -> String {
        let restarts = command.restarts
        return "listen \(command.listen.debugDescription) output \(command.output.prefix(40).debugDescription) "
            + "forward \(String(describing: command.forward).prefix(60)) latency \(command.latency) "
            + "passphrase env \(String(describing: command.passphraseEnv)) "
            + "file \(String(describing: command.passphraseFile).prefix(60)) key \(command.keyLength) "
            + "allow \(command.allow.count) max \(command.maxConnections) "
            + "leaked \(command.maxLeakedMultiplexers) backoff \(restarts.backoff) "
            + "\(restarts.backoffInitial)...\(restarts.backoffMax) jitter \(restarts.jitter.debugDescription) "
            + "intensity \(String(describing: restarts.intensity)) status \(command.statusInterval) "
            + "chaos \(String(describing: command.chaos)) metrics \(String(describing: command.metricsPort)) "
            + "\(command.metricsAddress.debugDescription) log \(command.logLevel.debugDescription)"
    }

    static func anyInt(_ random: inout SplitMix64) -> Int {
        switch random.next() % 4 {
        case 0: Int(truncatingIfNeeded: random.next())
        case 1: Int(random.next() % 70_000)
        default: ints[Int(random.next() % UInt64(ints.count))]
        }
    }

    static let ints = [
        Int.min, -1, 0, 1, 16, 24, 32, 50, 64, 120, 9_000, 10_000, 60_000, 60_001, 65_535, 65_536, 100_000, 100_001,
        Int.max,
    ]

    static func anyDouble(_ random: inout SplitMix64) -> Double {
        switch random.next() % 4 {
        case 0: Double(random.next() % 100_000) / 100
        case 1: Double(bitPattern: random.next())
        default: doubles[Int(random.next() % UInt64(doubles.count))]
        }
    }

    static let doubles: [Double] = [
        0, -0.0, 0.1, 0.099_999, .leastNormalMagnitude / 1e6, .leastNonzeroMagnitude, 1, 10, 86_400, 86_400.000_1,
        1e308, .infinity, -.infinity, .nan, -1,
    ]

    static func pick(_ random: inout SplitMix64, _ choices: [String]) -> String {
        choices[Int(random.next() % UInt64(choices.count))]
    }

    /// Integers as text: valid, edge, overflowing, and not integers at all.
    static func integer(_ random: inout SplitMix64, valid: String) -> String {
        switch random.next() % 6 {
        case 0, 1: valid
        case 2: String(Int(truncatingIfNeeded: random.next()))
        case 3: String(random.next() % 70_000)
        default: pick(&random, integers)
        }
    }

    static let integers = [
        "0", "-1", "1", "16", "24", "32", "65535", "65536", "60000", "60001", "100000", "100001",
        "99999999999999999999", "-99999999999999999999", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "1e3", "0x10", "1_000", " 5", "5 ", "+5", "٣", "NaN", "", "1.5", "-0",
    ]

    /// Seconds as text (`--status-interval`, `--chaos`), with odd units and non-numbers.
    static func seconds(_ random: inout SplitMix64) -> String {
        random.next() % 4 == 0 ? String(Double(random.next() % 100_000) / 100) : pick(&random, secondsTexts)
    }

    static let secondsTexts = [
        "0", "0.1", "0.09", "10", "86400", "86400.0001", "1e308", "1e309", "1e-320", "nan", "inf", "-inf", "-0", "-1",
        "10ms", "1s", "5m", "1h", "PT5S", "0x1p-3", ".5", "5.", "", "١٠",
    ]

    static func host(_ random: inout SplitMix64) -> String {
        pick(&random, hosts)
    }

    static let hosts = [
        "127.0.0.1", "0.0.0.0", "::1", "::", "[::1]", "fe80::1%lo", "::ffff:127.0.0.1", "256.1.1.1", "1.2.3",
        "localhost", "", " ", "\0", "127.0.0.1\0", "ünïcødé", "1.1.1.1.1", String(repeating: "1.", count: 64),
    ]

    static func port(_ random: inout SplitMix64) -> String {
        random.next() % 4 == 0 ? String(random.next() % 70_000) : pick(&random, ports)
    }

    static let ports = [
        "0", "1", "9000", "65535", "65536", "-1", "", "99999999999999999999", "+80", "0x50", " 80", "80 ",
    ]

    /// `--listen` values: HOST:PORT, [IPv6]:PORT, bare hosts and ports, and broken ones.
    static func address(_ random: inout SplitMix64) -> String {
        switch random.next() % 4 {
        case 0: "\(host(&random)):\(port(&random))"
        case 1: "[\(host(&random))]:\(port(&random))"
        case 2: bytes(&random)
        default: pick(&random, addresses)
        }
    }

    static let addresses = [
        "127.0.0.1:9000", "[::1]:9000", "::1", "[::1]", "[::1", "::1]:80", "[]:80", "[::1]:", "[::1]x", "[::1]:65536",
        "0.0.0.0:0", ":", "::", ":::", "127.0.0.1:", ":9000", "9000", "65536", "-1", "127.0.0.1:9000:1", "[[::1]]:9",
        "[::1]]:9", "[fe80::1%lo]:9000", "[\0]:9", "127.0.0.1:٩٠٠٠",
    ]

    /// `--forward` values: udp:// URLs, other schemes, and broken ones.
    static func url(_ random: inout SplitMix64) -> String {
        switch random.next() % 4 {
        case 0: "udp://\(address(&random))"
        case 1: "\(pick(&random, schemes)):\(pick(&random, ["//", "/", "///"]))\(address(&random))"
        case 2: bytes(&random)
        default: pick(&random, urls)
        }
    }

    static let schemes = ["udp", "UDP", "srt", "rtp", "", "udp:"]

    static let urls = [
        "udp://127.0.0.1:5000", "udp://[::1]:5000", "UDP://127.0.0.1:5000", "srt://127.0.0.1:9000", "udp://",
        "udp://:", "udp://[::1]", "udp://[::1]:0", "udp://[::1]:65536", "udp://127.0.0.1:5000?x=1",
        "udp://user@127.0.0.1:5000", "udp://127.0.0.1:5000/", "udp:/127.0.0.1:5000", "udp://127.0.0.1:5000#frag",
        "udp://[::1]:5000]", "udp://127.0.0.1: 5000", "udp://5000", "udp://127.0.0.1:5000\0", "udp://İ:5000",
        "udp://\u{301}127.0.0.1:5000",
    ]

    static func kind(_ random: inout SplitMix64) -> String {
        pick(&random, kinds)
    }

    static let kinds = [
        "exponential", "constant", "linear", "decorrelated", "soft-exponential", "steps", "Exponential", "",
        "soft_exponential", "fibonacci",
    ]

    static func jitter(_ random: inout SplitMix64) -> String {
        random.next() % 5 == 0 ? String(Double(random.next() % 200) / 100) : pick(&random, jitters)
    }

    static let jitters = [
        "none", "full", "equal", "0", "0.2", "1", "-0.1", "1.1", "nan", "inf", "1e-400", "", "FULL", "20%",
    ]

    static func intensity(_ random: inout SplitMix64) -> String {
        random.next() % 5 == 0 ? "\(random.next() % 100)/\(random.next() % 1000)" : pick(&random, intensities)
    }

    static let intensities = [
        "5/60", "0/1", "1/0.001", "-1/1", "5/0", "5/-1", "5/nan", "5/inf", "5/1e9", "5/1e10", "5/1e-300",
        "99999999999999999999/1", "9223372036854775807/1", "5", "/", "5/", "/60", "5/60/1", "a/b", "",
    ]

    static func level(_ random: inout SplitMix64) -> String {
        pick(&random, levels)
    }

    static let levels = [
        "trace", "debug", "info", "notice", "warning", "error", "critical", "ERROR", "fatal", "", "warn",
    ]

    /// A set variable with a secret, an unset one, and names no environment can hold.
    static func variable(_ random: inout SplitMix64, _ secrets: Secrets) -> String {
        pick(&random, random.next() % 2 == 0 ? secrets.variables : variables)
    }

    static let variables = ["SRT_RELAY_FUZZ_UNSET", "", "=", "A=B", "A\0B", "ü", String(repeating: "V", count: 5_000)]

    /// A file with a secret, and paths that do not exist, are not files, or cannot be read.
    static func file(_ random: inout SplitMix64, _ secrets: Secrets) -> String {
        pick(&random, random.next() % 2 == 0 ? secrets.files : files)
    }

    static let files = [
        "/nonexistent/secret", "", "/", "/dev/null", "/proc/self/nonexistent", "relative/missing",
        "/etc/shadow-not-here", "\0", String(repeating: "d/", count: 3_000),
    ]

    /// Free text: empty, unicode, control bytes, NUL, very long, flag-like.
    static func text(_ random: inout SplitMix64) -> String {
        random.next() % 4 == 0 ? bytes(&random) : pick(&random, texts)
    }

    static let texts = [
        "", " ", "a", "cam1", "ünïcødé", "🎥", "\0", "cam\0one", "\n", "line1\nline2", "\u{2028}", "--listen", "-",
        "--", "\u{202E}evil", "#!::r=cam1,m=publish", "../../etc", ".hidden", String(repeating: "a", count: 10_000),
        String(repeating: "é", count: 300),
    ]

    /// Up to 40 random scalars from ASCII (controls included) and a few other planes.
    static func bytes(_ random: inout SplitMix64) -> String {
        let length = Int(random.next() % 41)
        var text = ""
        for _ in 0..<length {
            let value = random.next()
            let scalar: UInt32 =
                switch value % 4 {
                case 0, 1: UInt32((value >> 8) % 128)
                case 2: UInt32(0xA0 + (value >> 8) % 0x700)
                default: UInt32(0x1F300 + (value >> 8) % 0x100)
                }
            text.unicodeScalars.append(UnicodeScalar(scalar) ?? "?")
        }
        return text
    }
}
