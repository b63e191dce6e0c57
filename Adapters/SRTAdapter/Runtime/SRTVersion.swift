import CSRT

/// A libsrt version, as `major.minor.patch`.
///
/// ```swift
/// print(SRTVersion.runtime)  // 1.5.1 on Debian bookworm
/// precondition(SRTVersion.runtime >= SRTVersion(major: 1, minor: 5, patch: 0))
/// ```
public struct SRTVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    public init(major: Int, minor: Int, patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Decodes libsrt's packed form, `major << 16 | minor << 8 | patch`.
    init(packed: UInt32) {
        self.init(major: Int(packed >> 16), minor: Int((packed >> 8) & 0xFF), patch: Int(packed & 0xFF))
    }

    /// The version of the libsrt this process loaded.
    public static var runtime: SRTVersion {
        SRTVersion(packed: srt_getversion())
    }

    /// The version of the headers the adapter was compiled against.
    public static var headers: SRTVersion {
        SRTVersion(packed: UInt32(csrt_header_version()))
    }

    /// The oldest libsrt whose failure modes the adapter was measured against (`Docs/libsrt-failure-modes.md`).
    public static let minimumSupported = SRTVersion(major: 1, minor: 5, patch: 1)

    public static func < (lhs: SRTVersion, rhs: SRTVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    public var description: String {
        "\(major).\(minor).\(patch)"
    }
}
