import Foundation
public import Testing

/// Something a suite needs from the machine (a tool, root, a built binary). Outside CI a suite whose prerequisite is
/// missing is skipped; under CI (`CI` set, as `.ci/run` does) it runs anyway and fails, so that a missing install step
/// can never make CI pass without testing.
///
/// ```swift
/// @Suite(.enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
/// ```
public struct Prerequisite: Sendable, CustomStringConvertible {
    /// What is needed, for the skip comment and the CI check.
    public let description: String
    private let check: @Sendable () -> Bool

    public init(_ description: String, check: @escaping @Sendable () -> Bool) {
        self.description = description
        self.check = check
    }

    /// Whether the machine has it now.
    public var isPresent: Bool { check() }

    /// Whether a suite that needs it runs: when present, and always under CI.
    public var allowsRunning: Bool { isPresent || Self.isCI }

    /// Why the suite was skipped.
    public var comment: Comment { "needs \(description)" }

    /// `CI` is set and not empty.
    public static var isCI: Bool { !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty }

    /// An executable file at `path`.
    public static func executable(_ path: String, from package: String) -> Prerequisite {
        Prerequisite("\(path) (\(package))") { FileManager.default.isExecutableFile(atPath: path) }
    }

    /// srt-live-transmit, the peer most suites talk to.
    public static let srtTools = executable("/usr/bin/srt-live-transmit", from: "srt-tools")
    /// Root and iproute2's `ip`: network namespaces and injected faults.
    public static let namespaces = Prerequisite("root and /usr/sbin/ip (iproute2)") {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }
    /// ffmpeg and ffprobe, with libx264 and libsrt: real encoders and players.
    public static let ffmpeg = Prerequisite("/usr/bin/ffmpeg and /usr/bin/ffprobe (ffmpeg)") {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/ffprobe")
    }
    /// util-linux's prlimit.
    public static let prlimit = executable("/usr/bin/prlimit", from: "util-linux")
}
