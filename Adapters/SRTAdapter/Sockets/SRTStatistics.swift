import CSRT

/// A connection's counters from `srt_bstats`: totals since it connected, plus the round-trip time and bandwidth.
///
/// ```swift
/// let stats = try connection.statistics()
/// print(stats.packetsReceived, stats.packetsReceivedLost, stats.roundTripTime)
/// ```
public struct SRTStatistics: Sendable, Hashable {
    /// Milliseconds since the connection started.
    public let elapsed: Duration
    public let packetsSent: Int64
    public let packetsReceived: Int64
    public let packetsSentLost: Int
    public let packetsReceivedLost: Int
    public let packetsRetransmitted: Int
    public let packetsSentDropped: Int
    public let packetsReceivedDropped: Int
    public let bytesSent: UInt64
    public let bytesReceived: UInt64
    /// The smoothed round-trip time.
    public let roundTripTime: Duration
    /// The estimated link bandwidth, in Mbit/s.
    public let bandwidthMbps: Double

    init(_ raw: SRT_TRACEBSTATS) {
        elapsed = .milliseconds(raw.msTimeStamp)
        packetsSent = raw.pktSentTotal
        packetsReceived = raw.pktRecvTotal
        packetsSentLost = Int(raw.pktSndLossTotal)
        packetsReceivedLost = Int(raw.pktRcvLossTotal)
        packetsRetransmitted = Int(raw.pktRetransTotal)
        packetsSentDropped = Int(raw.pktSndDropTotal)
        packetsReceivedDropped = Int(raw.pktRcvDropTotal)
        bytesSent = raw.byteSentTotal
        bytesReceived = raw.byteRecvTotal
        roundTripTime = .microseconds(Int64(raw.msRTT * 1000))
        bandwidthMbps = raw.mbpsBandwidth
    }
}
