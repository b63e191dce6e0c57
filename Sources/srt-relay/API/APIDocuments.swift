/// The JSON documents of the relay's HTTP API (`Docs/srt-relay-api.yaml` describes them): what `GET /v1/streams` and
/// `GET /v1/connections/{id}` answer. Durations in seconds, rates in bits per second, instants in ISO 8601 UTC.
enum APIDocuments {
    struct StreamList: Encodable {
        let streams: [Stream]
    }

    struct Stream: Encodable {
        let name: String
        let publisher: Peer?
        let readers: [Reader]
        /// Payload bytes received from publishers since the stream appeared.
        let receivedBytes: UInt64
        /// The publisher's bitrate over the last few seconds.
        let bitrateBps: Double
        /// How long the current publisher has been publishing; `nil` without one.
        let uptimeSeconds: Double?
        /// The file the current publisher's stream is recorded to; `nil` when not recorded.
        let recording: String?
        /// Its pushes on to other listeners and its pull from an origin (`--push`, `--pull`).
        let links: [Link]
    }

    /// A push or a pull.
    struct Link: Encodable {
        /// `push` or `pull`.
        let kind: String
        /// The listener's address and stream id, never a passphrase.
        let remote: String
        let connected: Bool
        /// Connections made so far (more than one: it reconnected).
        let connects: Int
        /// Payload bytes sent (push) or received (pull).
        let bytes: UInt64
        /// A push's messages lost with broken connections.
        let lostMessages: Int
        /// A push's 188-byte packets dropped from its queue while reconnecting or behind; 0 for a pull.
        let droppedPackets: Int
        /// Bytes waiting in a push's queue; 0 for a pull.
        let queuedBytes: Int
        let since: String
    }

    struct Peer: Encodable {
        let id: Int
        let address: String
        let since: String
    }

    struct Reader: Encodable {
        let id: Int
        let address: String
        let since: String
        let sentBytes: Int
        /// Bytes waiting in the reader's queue.
        let queuedBytes: Int
        /// 188-byte packets the relay dropped for it while it was behind.
        let droppedPackets: Int
    }

    struct Connection: Encodable {
        let id: Int
        /// `publish` or `read`; `nil` for a stream id the relay does not serve.
        let role: String?
        let stream: String?
        let streamId: String
        let address: String
        let since: String
        let uptimeSeconds: Double
        let statistics: Statistics?
    }

    /// libsrt's counters for the connection (`srt_bstats`).
    struct Statistics: Encodable {
        let rttMilliseconds: Double
        let bandwidthMbps: Double
        let sendRateMbps: Double
        let receiveRateMbps: Double
        let packetsSent: Int64
        let packetsReceived: Int64
        let packetsSentLost: Int
        let packetsReceivedLost: Int
        let packetsRetransmitted: Int
        let packetsSentDropped: Int
        let packetsReceivedDropped: Int
        let bytesSent: UInt64
        let bytesReceived: UInt64
        let sendBufferMilliseconds: Double
        let receiveBufferMilliseconds: Double
        let receiveBufferBytes: Int
    }

    struct Failure: Encodable {
        let error: String
    }
}
