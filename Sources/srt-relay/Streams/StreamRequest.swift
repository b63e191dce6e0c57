/// What a caller asks for, read from its stream id: a stream's name and whether it publishes or reads.
///
/// Three spellings are understood:
///
/// ```swift
/// try StreamRequest(parsing: "#!::r=cam1,m=publish")   // SRT's access-control syntax: publish cam1
/// try StreamRequest(parsing: "#!::r=cam1,m=request")   // read cam1 (`m` defaults to request there)
/// try StreamRequest(parsing: "publish:cam1")            // MediaMTX's form; "read:cam1" reads
/// try StreamRequest(parsing: "cam1")                    // a plain id publishes, as it always did
/// ```
///
/// Anything else (an unknown mode or type, `#!::` without `r=`, `read:` without a name) is a ``StreamRequestError``,
/// and the caller is told 1400. A name is any text (the relay's lines escape it, file names keep a safe part).
struct StreamRequest: Hashable, Sendable {
    enum Role: String, Hashable, Sendable {
        case publish
        case read
    }

    /// The stream's name; empty for a publisher that sent no stream id.
    let name: String
    let role: Role
    /// `u=` of the access-control syntax, when given (shown in the API, never used to authenticate).
    var user: String?
    /// `x-via=` of the access-control syntax: the relays the stream came through, in order, each adding its id when
    /// it pushes or pulls (``RelayIdentity``). A relay that finds its own id here is in a loop.
    var via: [String] = []

    /// The longest stream id libsrt carries (`SRTO_STREAMID`).
    static let maxLength = 512

    init(name: String, role: Role, user: String? = nil, via: [String] = []) {
        self.name = name
        self.role = role
        self.user = user
        self.via = via
    }

    /// Reads `streamID`.
    ///
    /// - Throws: ``StreamRequestError`` naming what is wrong.
    init(parsing streamID: String) throws(StreamRequestError) {
        guard streamID.utf8.count <= Self.maxLength else {
            throw StreamRequestError("longer than \(Self.maxLength) bytes")
        }
        if streamID.hasPrefix("#!::") {
            self = try Self.parseAccessControl(streamID.dropFirst(4))
        } else if let colon = streamID.firstIndex(of: ":"),
            let role = ["publish": Role.publish, "read": Role.read][String(streamID[..<colon])]
        {
            let name = String(streamID[streamID.index(after: colon)...])
            guard !name.isEmpty else { throw StreamRequestError("no stream name after \"\(role.rawValue):\"") }
            self.init(name: name, role: role)
        } else {
            self.init(name: streamID, role: .publish)
        }
    }

    /// `r=NAME,m=publish|request,u=USER,…` (the keys of SRT's access-control convention; unknown ones are ignored,
    /// as the convention asks).
    private static func parseAccessControl(_ body: Substring) throws(StreamRequestError) -> StreamRequest {
        var name: String?
        var role = Role.read
        var user: String?
        var via: [String] = []
        for pair in body.split(separator: ",", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else {
                throw StreamRequestError("\"\(pair)\" is not key=value")
            }
            let key = pair[..<equals]
            let value = String(pair[pair.index(after: equals)...])
            switch key {
            case "r":
                name = value
            case "m":
                switch value {
                case "publish": role = .publish
                case "request": role = .read
                default: throw StreamRequestError("mode \"\(value)\" is not served (publish or request)")
                }
            case "u":
                user = value
            case "x-via":
                via = value.split(separator: ".", omittingEmptySubsequences: true).map(String.init)
            case "t":
                // The type: only a live stream is served here.
                guard value == "stream" else { throw StreamRequestError("type \"\(value)\" is not served") }
            default:
                continue
            }
        }
        guard let name, !name.isEmpty else { throw StreamRequestError("no resource (r=) in the stream id") }
        return StreamRequest(name: name, role: role, user: user, via: via)
    }

    /// The name as the relay's lines show it.
    var shownName: String {
        name.isEmpty ? "(no stream id)" : name
    }
}

/// A stream id the relay does not understand; the caller is told ``SRTRejectReason/badRequest`` (1400).
struct StreamRequestError: Error, Hashable, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String {
        "stream id: \(message)"
    }
}
