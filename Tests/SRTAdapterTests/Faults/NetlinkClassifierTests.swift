import CNetlink
import Testing

/// The rtnetlink classifier against messages built by hand: a message too short for the header it announces
/// (a link, address or route message of its netlink header alone) is skipped, and never read past its own length,
/// where the next message's bytes would be taken for its flags.
@Suite("Network-change monitor: message bounds")
struct NetlinkClassifierTests {
    /// A netlink header of `length` bytes and `type`, with `sequence` (at the offset where a link message's flags
    /// would be, for the message before it), as the kernel lays it out.
    static func header(length: UInt32, type: UInt16, sequence: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: length) { bytes += $0 }
        withUnsafeBytes(of: type) { bytes += $0 }
        withUnsafeBytes(of: UInt16(0)) { bytes += $0 }
        withUnsafeBytes(of: sequence) { bytes += $0 }
        withUnsafeBytes(of: UInt32(0)) { bytes += $0 }
        return bytes
    }

    @Test(
        "a link, address or route message of its netlink header alone wakes no one",
        arguments: [UInt16(RTM_NEWLINK), UInt16(RTM_NEWADDR), UInt16(RTM_NEWROUTE)])
    func truncatedMessageIsSkipped(type: UInt16) {
        let headerLength = UInt32(MemoryLayout<nlmsghdr>.size)
        // The truncated message, then one of a type the classifier ignores, whose bytes, where the truncated one's
        // body would be, look like a main-table route (its type) and an interface up and running (its sequence).
        let buffer =
            Self.header(length: headerLength, type: type, sequence: 0)
            + Self.header(
                length: headerLength, type: UInt16(RT_TABLE_MAIN.rawValue), sequence: UInt32(IFF_UP | IFF_RUNNING))
            + [UInt8](repeating: 0, count: 64)
        let bits = buffer.withUnsafeBytes { cnetlink_classify($0.baseAddress, Int32(2 * headerLength)) }
        #expect(bits == 0, "a truncated message was read past its end: bits \(bits)")
    }
}
