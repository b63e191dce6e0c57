/// The file name of a recording: `<stream id or peer>-<UTC time>.ts`, made safe for any file system.
///
/// ```swift
/// RecordingName.make(streamID: "live/cam 1", peer: "127.0.0.1:5000", time: "20261129T153005Z")
/// // "live_cam_1-20261129T153005Z.ts"
/// RecordingName.make(streamID: "#!::r=cam1,m=publish", peer: "…", time: "…")   // "cam1-….ts"
/// RecordingName.make(streamID: "", peer: "[::1]:5000", time: "…")               // "__1_5000-….ts"
/// RecordingName.make(streamID: "cam1", peer: "…", time: "…", segment: 2)        // "cam1-…-000002.ts"
/// ```
///
/// Segments of one recording share its name and end in a six-digit number, so that they sort in order (up to
/// 999,999 segments: 11 days of 1 s segments).
enum RecordingName {
    /// The longest name part kept, in bytes: room for the time and a counter within NAME_MAX (255).
    static let maximumLength = 120

    static func make(streamID: String, peer: String, time: String, counter: Int = 1, segment: Int? = nil) -> String {
        let base = sanitize(resource(of: streamID)) ?? sanitize(peer) ?? "stream"
        let suffix = counter > 1 ? "-\(counter)" : ""
        let number = segment.map { "-" + String(repeating: "0", count: max(0, 6 - String($0).count)) + String($0) }
        return "\(base)-\(time)\(suffix)\(number ?? "").ts"
    }

    /// The resource of an SRT access-control stream id (`#!::r=cam1,m=publish` → `cam1`), else the id itself.
    static func resource(of streamID: String) -> String {
        guard streamID.hasPrefix("#!::") else { return streamID }
        for pair in streamID.dropFirst(4).split(separator: ",") where pair.hasPrefix("r=") {
            return String(pair.dropFirst(2))
        }
        return streamID
    }

    /// ASCII letters, digits, `.`, `-` and `_` stay; every other byte becomes `_`. No leading dot (no hidden file,
    /// no `..`), at most ``maximumLength`` bytes; `nil` when nothing is left.
    static func sanitize(_ text: String) -> String? {
        var bytes = text.utf8.prefix(maximumLength).map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                byte
            default:
                UInt8(ascii: "_")
            }
        }
        while bytes.first == UInt8(ascii: ".") { bytes[0] = UInt8(ascii: "_") }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}
