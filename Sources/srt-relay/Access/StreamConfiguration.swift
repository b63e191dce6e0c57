import Foundation
import SRTAdapter
import Supervisor

/// `--config FILE`: which streams the relay serves, and for each who may publish and read it, with which
/// passphrase, from which networks, with how many readers, and whether it is recorded.
///
/// ```json
/// {
///   "streams": {
///     "cam1": {
///       "publish": { "passphrase": "publisher secret 1", "from": ["192.0.2.0/24"] },
///       "read": { "passphrase": "viewer secret 1" },
///       "maxReaders": 20,
///       "record": true
///     },
///     "*": { "read": {}, "record": false }
///   }
/// }
/// ```
///
/// A stream not listed follows `"*"`, and is refused (1403) when there is none. A role's passphrase is the one its
/// callers must use (set for each caller in the handshake); without one, the listener's (`--passphrase-*`) applies,
/// or none. `from` lists the networks callers may come from (anywhere when absent). Unknown keys, and keys given
/// twice in one object, are errors: a typo must not leave a stream open. Loaded whole or not at all
/// (``load(from:)``); secrets never appear in any message.
struct StreamConfiguration: Sendable {
    /// One role of a stream: publishing or reading.
    struct Access: Sendable, Equatable {
        var passphrase: SRTPassphrase?
        /// The networks callers may come from; `nil`: anywhere.
        var from: [NetworkRange]?

        /// Whether a caller from `host` may take this role.
        func admits(_ host: String?) -> Bool {
            guard let from else { return true }
            guard let host else { return false }
            return from.contains { $0.contains(host) }
        }
    }

    struct Stream: Sendable, Equatable {
        /// `nil`: nobody may publish.
        var publish: Access?
        /// `nil`: nobody may read.
        var read: Access?
        /// Overrides `--max-readers` for this stream.
        var maxReaders: Int?
        /// Overrides `--record` for this stream.
        var record: Bool?
    }

    /// The streams by name; `"*"` stands for every other.
    var streams: [String: Stream]

    /// The name of the entry that stands for every stream not listed.
    static let anyStream = "*"

    /// What applies to `name`: its entry, or `"*"`'s, or `nil` (refused).
    func stream(named name: String) -> Stream? {
        streams[name] ?? streams[Self.anyStream]
    }

    /// Reads and validates the file at `path`.
    ///
    /// - Throws: ``ConfigurationFileError`` saying where in the file and what is wrong.
    static func load(from path: String) throws(ConfigurationFileError) -> StreamConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationFileError(
                path: path, message: "cannot read it: \((error as NSError).localizedDescription)")
        }
        return try parse(data, path: path)
    }

    /// Validates `data`, a file's contents (`path` for the messages).
    static func parse(_ data: Data, path: String) throws(ConfigurationFileError) -> StreamConfiguration {
        do {
            let decoded = Result { try JSONDecoder().decode(File.self, from: data) }
            // Well-formed JSON only is looked at for keys given twice: the decoder's error says what is not.
            if case .failure(let error as DecodingError) = decoded, case .dataCorrupted(let context) = error,
                context.codingPath.isEmpty
            {
                throw error
            }
            if let duplicate = DuplicateKeys.first(in: data) {
                throw ConfigurationFileError.Problem(path: duplicate, message: "given twice")
            }
            return try decoded.get().configuration
        } catch let error as DecodingError {
            throw ConfigurationFileError(path: path, decoding: error)
        } catch let error as ConfigurationFileError.Problem {
            throw ConfigurationFileError(path: path, at: error.path, message: error.message)
        } catch {
            throw ConfigurationFileError(path: path, message: "\(error)")
        }
    }
}

/// A configuration file that cannot be used: one line naming the file, the place in it and the problem.
///
/// ```
/// streams.json: streams.cam1.read.passphrase: must be 10 to 79 bytes, got 5
/// ```
struct ConfigurationFileError: Error, CustomStringConvertible {
    let description: String

    init(path: String, message: String) {
        description = "\(path): \(message)"
    }

    init(path: String, at location: [String], message: String) {
        description = "\(path): \(location.joined(separator: ".")): \(message)"
    }

    init(path: String, decoding error: DecodingError) {
        func place(_ path: [any CodingKey]) -> String {
            path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let type, let context):
            self.init(path: path, message: "\(place(context.codingPath)): expected \(Self.name(of: type))")
        case .valueNotFound(let type, let context):
            self.init(path: path, message: "\(place(context.codingPath)): expected \(Self.name(of: type)), got null")
        case .keyNotFound(let key, let context):
            self.init(path: path, message: "\(place(context.codingPath + [key])): missing")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            self.init(path: path, message: "not valid JSON\(detail.map { " (\($0))" } ?? "")")
        case .dataCorrupted(let context):
            self.init(path: path, message: "\(place(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            self.init(path: path, message: "cannot be read")
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        default: "\(type)".contains("Array") ? "a list" : "an object"
        }
    }

    /// A value that decodes but is not valid, found while decoding.
    struct Problem: Error {
        let path: [String]
        let message: String
    }
}

/// The file's shape, decoded strictly: every object refuses keys it does not know.
private struct File: Decodable {
    let configuration: StreamConfiguration

    init(from decoder: any Decoder) throws {
        let root = try decoder.container(keyedBy: AnyKey.self)
        try root.refuseUnknown(["streams"], at: [])
        let entries = try root.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("streams"))
        var streams: [String: StreamConfiguration.Stream] = [:]
        for key in entries.allKeys {
            guard !key.stringValue.isEmpty else {
                throw ConfigurationFileError.Problem(path: ["streams"], message: "a stream name must not be empty")
            }
            let entry = try entries.nestedContainer(keyedBy: AnyKey.self, forKey: key)
            let path = ["streams", key.stringValue]
            try entry.refuseUnknown(["publish", "read", "maxReaders", "record"], at: path)
            var stream = StreamConfiguration.Stream()
            stream.publish = try entry.access("publish", at: path)
            stream.read = try entry.access("read", at: path)
            if let readers = try entry.decodeIfPresent(Int.self, forKey: AnyKey("maxReaders")) {
                guard (0...100_000).contains(readers) else {
                    throw ConfigurationFileError.Problem(
                        path: path + ["maxReaders"], message: "must be 0 to 100000, got \(readers)")
                }
                stream.maxReaders = readers
            }
            stream.record = try entry.decodeIfPresent(Bool.self, forKey: AnyKey("record"))
            streams[key.stringValue] = stream
        }
        configuration = StreamConfiguration(streams: streams)
    }
}

private struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil

    init(_ string: String) {
        stringValue = string
    }

    init?(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        return nil
    }
}

extension KeyedDecodingContainer where Key == AnyKey {
    fileprivate func refuseUnknown(_ known: Set<String>, at path: [String]) throws {
        if let unknown = allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw ConfigurationFileError.Problem(
                path: path + [unknown], message: "unknown key (expected \(known.sorted().joined(separator: ", ")))")
        }
    }

    fileprivate func access(_ role: String, at path: [String]) throws -> StreamConfiguration.Access? {
        guard contains(AnyKey(role)) else { return nil }
        let object = try nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(role))
        let path = path + [role]
        try object.refuseUnknown(["passphrase", "from"], at: path)
        var access = StreamConfiguration.Access()
        if let secret = try object.decodeIfPresent(String.self, forKey: AnyKey("passphrase")) {
            do {
                access.passphrase = try SRTPassphrase(secret)
            } catch {
                // The library's message gives the length only.
                throw ConfigurationFileError.Problem(path: path + ["passphrase"], message: error.message)
            }
        }
        if let networks = try object.decodeIfPresent([String].self, forKey: AnyKey("from")) {
            access.from = try networks.enumerated().map { index, text throws in
                do {
                    return try NetworkRange(parsing: text)
                } catch let error as ParseFailure {
                    throw ConfigurationFileError.Problem(path: path + ["from[\(index)]"], message: error.description)
                }
            }
        }
        return access
    }
}
