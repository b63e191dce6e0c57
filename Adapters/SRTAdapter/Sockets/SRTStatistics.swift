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
    /// Acknowledgements the peer sent for our data (a receiving peer sends one every 10 ms while data flows).
    public let acknowledgementsReceived: Int
    /// Acknowledgements sent for the peer's data.
    public let acknowledgementsSent: Int
    /// Loss reports (NAKs) received from the peer.
    public let lossReportsReceived: Int
    /// Loss reports (NAKs) sent to the peer.
    public let lossReportsSent: Int
    public let bytesSent: UInt64
    public let bytesReceived: UInt64
    /// The smoothed round-trip time.
    public let roundTripTime: Duration
    /// The estimated link bandwidth, in Mbit/s.
    public let bandwidthMbps: Double
    /// The sending and receiving rates in Mbit/s, over the time since the counters were last cleared (since the
    /// connection started, unless read with `clear`).
    public let sendRateMbps: Double
    public let receiveRateMbps: Double
    /// How much sent data waits for the peer's acknowledgement, as a span of time.
    public let sendBufferDuration: Duration
    /// How much received data waits for delivery to the application, as a span of time and in bytes.
    public let receiveBufferDuration: Duration
    public let receiveBufferBytes: Int

    /// The sum of the counters that only the connection's UDP receive thread moves: packets received,
    /// acknowledgements and loss reports received, and acknowledgements and loss reports sent (libsrt sends those from
    /// the receive thread's timers). It stops rising when that thread dies; it also stays still on a healthy
    /// connection that carries no data, where only keep-alives flow, which libsrt does not count.
    public var receiveThreadActivity: Int64 {
        packetsReceived + Int64(acknowledgementsReceived + acknowledgementsSent + lossReportsReceived + lossReportsSent)
    }

    init(_ raw: SRT_TRACEBSTATS) {
        elapsed = .milliseconds(raw.msTimeStamp)
        packetsSent = raw.pktSentTotal
        packetsReceived = raw.pktRecvTotal
        packetsSentLost = Int(raw.pktSndLossTotal)
        packetsReceivedLost = Int(raw.pktRcvLossTotal)
        packetsRetransmitted = Int(raw.pktRetransTotal)
        packetsSentDropped = Int(raw.pktSndDropTotal)
        packetsReceivedDropped = Int(raw.pktRcvDropTotal)
        acknowledgementsReceived = Int(raw.pktRecvACKTotal)
        acknowledgementsSent = Int(raw.pktSentACKTotal)
        lossReportsReceived = Int(raw.pktRecvNAKTotal)
        lossReportsSent = Int(raw.pktSentNAKTotal)
        bytesSent = raw.byteSentTotal
        bytesReceived = raw.byteRecvTotal
        roundTripTime = .microseconds(Int64(raw.msRTT * 1000))
        bandwidthMbps = raw.mbpsBandwidth
        sendRateMbps = raw.mbpsSendRate
        receiveRateMbps = raw.mbpsRecvRate
        sendBufferDuration = .milliseconds(raw.msSndBuf)
        receiveBufferDuration = .milliseconds(raw.msRcvBuf)
        receiveBufferBytes = Int(raw.byteRcvBuf)
    }
}
