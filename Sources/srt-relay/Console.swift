import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes the relay's lines to standard output through an ``OutputQueue``: whole lines even when tasks print at
/// once, no stdio buffer to lose at exit, and no caller waits for a reader. Text for people, or JSON lines with
/// `--json`. Either way a peer's strings cannot break a line or reach the terminal as control characters: text
/// lines go through ``SafeText``, JSON strings are escaped as RFC 8259 says.
///
/// ```swift
/// let console = Console(json: false)
/// console.emit("listening", "listening on 0.0.0.0:9000", ["address": .string("0.0.0.0:9000")])
/// // 15:30:01.123 listening on 0.0.0.0:9000
/// ```
final class Console: Sendable {
    /// One field of a JSON line.
    enum Value: Sendable {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
    }

    let json: Bool
    /// Standard output, written by a thread of its own: a reader that stops reading stalls no caller.
    let output: OutputQueue

    init(json: Bool) {
        self.json = json
        output = OutputQueue(descriptor: STDOUT_FILENO) { count in
            let text = "\(count) line\(count == 1 ? "" : "s") dropped: standard output was not being read"
            let now = Timestamp.now()
            return json
                ? "{\"time\":\(Self.quoted(now.iso8601)),\"event\":\"output-dropped\",\"lines\":\(count)}\n"
                : "\(now.clock) \(text)\n"
        }
    }

    /// Lines dropped on both outputs since start because nobody read them.
    var droppedLines: Int {
        output.dropped.load(ordering: .relaxed) + OutputQueue.standardError.dropped.load(ordering: .relaxed)
    }

    /// Prints one event: `text` for people, or `{"time":…,"event":kind,…fields}`; fields keep their order.
    func emit(_ kind: String, _ text: String, _ fields: KeyValuePairs<String, Value> = [:]) {
        let now = Timestamp.now()
        var line: String
        if json {
            line = "{\"time\":\(Self.quoted(now.iso8601)),\"event\":\(Self.quoted(kind))"
            for (key, value) in fields { line += ",\(Self.quoted(key)):\(Self.encode(value))" }
            line += "}\n"
        } else {
            line = "\(now.clock) \(SafeText.escaped(text))\n"
        }
        output.enqueue(line)
    }

    /// A usage error: `srt-relay: <message>` on standard error, one line.
    static func usageError(_ message: String) {
        writeAll("srt-relay: \(SafeText.escaped(message))\n", to: STDERR_FILENO)
    }

    /// Writes all of `text`, retrying after signals and short writes; `false` when the rest could not be written.
    @discardableResult
    static func writeAll(_ text: String, to descriptor: Int32) -> Bool {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            // A closed pipe (EPIPE: SIGPIPE is ignored) or a full disk: the relay goes on without its output.
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    static func encode(_ value: Value) -> String {
        switch value {
        case .string(let text): quoted(text)
        case .int(let number): "\(number)"
        case .double(let number): number.isFinite ? "\(number)" : "null"
        case .bool(let flag): flag ? "true" : "false"
        }
    }

    /// A JSON string literal (RFC 8259 escapes).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
