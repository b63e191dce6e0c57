import Foundation
import SRTAdapter

/// One `--push` or `--pull`: which streams go to, or come from, which SRT listener.
///
/// `NAME=srt://HOST:PORT?streamid=ID&passphrase-env=VARIABLE&latency=MS`, with a numeric host; `NAME` is a stream
/// name or `*` for every stream, and `{stream}` in the stream id (the default) is replaced by the stream's name. The
/// passphrase comes from an environment variable, never the command line, which every user of the machine can read.
/// The query is optional; an unknown key, a missing host or port, or a passphrase libsrt would refuse is an error
/// here, before anything starts.
///
/// ```swift
/// let rule = try PushRule(parsing: "*=srt://198.51.100.7:9000?streamid=publish:{stream}")
/// rule.configuration(for: "cam1")    // a caller to 198.51.100.7:9000 with stream id "publish:cam1"
/// ```
struct PushRule: Sendable, CustomStringConvertible {
    /// A stream name, or `nil` for every stream (`*`).
    let stream: String?
    let host: String
    let port: Int
    /// The stream id, `{stream}` not yet replaced.
    let streamIDTemplate: String
    let passphrase: SRTPassphrase?
    let latency: Duration

    /// The token replaced by the stream's name in the stream id.
    static let placeholder = "{stream}"

    /// Parses `text`; without a `streamid` in the query, the stream id is `defaultStreamID` (`read:{stream}` for a
    /// pull).
    init(
        parsing text: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        defaultStreamID: String = PushRule.placeholder
    ) throws(ParseFailure) {
        guard let equals = text.firstIndex(of: "=") else {
            throw ParseFailure("expected NAME=srt://HOST:PORT[?streamid=...], got \"\(Self.redacted(text))\"")
        }
        let name = String(text[..<equals])
        let url = String(text[text.index(after: equals)...])
        guard !name.isEmpty, name.utf8.count <= 512, !name.contains("\0") else {
            throw ParseFailure("the stream name before = must be 1 to 512 bytes, or *")
        }
        stream = name == "*" ? nil : name
        let scheme = "srt://"
        guard url.lowercased().hasPrefix(scheme) else {
            throw ParseFailure("expected srt://HOST:PORT after \(name)=, got \"\(Self.redacted(url))\"")
        }
        let rest = url.dropFirst(scheme.count)
        let address = String(rest.prefix { $0 != "?" })
        let query = rest.dropFirst(address.count + 1)
        guard !address.contains("/"), !address.contains("@") else {
            throw ParseFailure("expected srt://HOST:PORT with nothing but a query after the port")
        }
        let (host, port) = try ListenAddress.split(address, defaultHost: "", defaultPort: -1)
        guard !host.isEmpty, port != -1 else {
            throw ParseFailure("expected srt://HOST:PORT with both host and port, got \"\(address)\"")
        }
        guard (1...65_535).contains(port) else { throw ParseFailure("the port must be 1 to 65535, got \(port)") }
        guard (try? SRTAddress(host: host, port: port)) != nil else {
            throw ParseFailure("the host must be a numeric IPv4 or IPv6 address, got \"\(host)\"")
        }
        self.host = host
        self.port = port
        var streamID = defaultStreamID
        var passphrase: SRTPassphrase?
        var latency = Duration.milliseconds(120)
        var seen: Set<String> = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            let raw = parts.count > 1 ? String(parts[1]) : ""
            guard let value = raw.removingPercentEncoding else {
                throw ParseFailure("\(key): a % must start a percent-encoded byte (%25 for % itself)")
            }
            guard seen.insert(key).inserted else { throw ParseFailure("\(key) appears twice in the query") }
            switch key {
            case "streamid":
                streamID = value
            case "passphrase-env":
                guard let secret = environment[value] else {
                    throw ParseFailure("passphrase-env: the environment variable \"\(value)\" is not set")
                }
                do {
                    passphrase = try SRTPassphrase(secret)
                } catch {
                    throw ParseFailure("passphrase-env: \(value) must hold 10 to 79 bytes without NUL")
                }
            case "passphrase":
                throw ParseFailure(
                    "passphrase: name an environment variable with passphrase-env= instead (a command line is "
                        + "visible to every user of the machine)")
            case "latency":
                guard let milliseconds = Int(value), (0...60_000).contains(milliseconds) else {
                    throw ParseFailure("latency: must be 0 to 60000 milliseconds, got \"\(value)\"")
                }
                latency = .milliseconds(milliseconds)
            default:
                throw ParseFailure("unknown query key \"\(key)\" (streamid, passphrase-env, latency)")
            }
        }
        // A stream id long enough once a name replaces the placeholder is checked per stream; this one is static.
        guard streamID.utf8.count <= 512, !streamID.contains("\0") else {
            throw ParseFailure("streamid: must be at most 512 bytes without NUL")
        }
        self.streamIDTemplate = streamID
        self.passphrase = passphrase
        self.latency = latency
    }

    /// Whether the rule pushes `name`.
    func matches(_ name: String) -> Bool {
        stream == nil || stream == name
    }

    /// The caller that pushes or pulls `name` for `identity`, the stream having come through `via`; throws when
    /// the name and the chain make the stream id too long, or when the name would change what the stream id asks of
    /// the listener (any publisher or reader may pick a name).
    func configuration(for name: String, identity: RelayIdentity, via: [String]) throws -> SRTCallerConfiguration {
        let streamID = streamID(for: name)
        let accessControl = "#!::"
        // In SRT's access-control syntax a comma starts another key (`,r=other`, `,m=request`); a name that makes a
        // plain id that syntax picks its keys itself.
        if streamIDTemplate.contains(Self.placeholder),
            streamIDTemplate.hasPrefix(accessControl) ? name.contains(",") : streamID.hasPrefix(accessControl)
        {
            throw ParseFailure("the stream's name would change the keys of the stream id \(streamIDTemplate)")
        }
        return try SRTCallerConfiguration(
            host: host, port: port, streamID: identity.streamID(streamID, after: via), latency: latency,
            passphrase: passphrase)
    }

    /// The new call a stalled push or pull makes to learn whether the listener is there (``StallWatch``): any answer
    /// tells, a rejection too, so it asks to read no stream in particular (`#!::m=request`), which makes no publisher,
    /// no recording and no reader anywhere; it waits at most `connectTimeout`.
    func probeConfiguration(connectTimeout: Duration) throws -> SRTCallerConfiguration {
        try SRTCallerConfiguration(
            host: host, port: port, streamID: "#!::m=request", latency: latency, passphrase: passphrase,
            connectTimeout: connectTimeout)
    }

    func streamID(for name: String) -> String {
        streamIDTemplate.replacingOccurrences(of: Self.placeholder, with: name)
    }

    /// The target as the relay prints it: never the passphrase.
    var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return "srt://\(address)?streamid=\(streamIDTemplate)" + (passphrase == nil ? "" : " (with a passphrase)")
    }

    /// `text` with whatever follows `passphrase=` hidden: errors quote what they were given.
    static func redacted(_ text: String) -> String {
        guard let range = text.range(of: "passphrase=") else { return text }
        let tail = text[range.upperBound...]
        let end = tail.firstIndex(of: "&") ?? text.endIndex
        return text[..<range.upperBound] + "***" + text[end...]
    }
}
