import Foundation
import SRTAdapter
import Synchronization

/// The relay's HTTP API beside `/metrics` (``MetricsServer``): its streams, one connection's libsrt statistics, and
/// closing a connection. JSON; `Docs/srt-relay-api.yaml` is its OpenAPI description.
///
/// ```sh
/// curl -s 127.0.0.1:9100/v1/streams
/// curl -s 127.0.0.1:9100/v1/connections/3
/// curl -s -X DELETE 127.0.0.1:9100/v1/connections/3     # 204; the connection's line says why it ended
/// ```
struct RelayAPI: Sendable {
    let table: ConnectionTable
    let hubs: StreamHubs

    /// An answer: status, JSON body.
    struct Response: Sendable {
        let status: Int
        let body: [UInt8]
    }

    /// Answers `method` on `path` (without its query), or `nil` when the path is not the API's.
    func respond(method: String, path: String) async -> Response? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0].isEmpty, parts[1] == "v1" else { return nil }
        let resource = Array(parts.dropFirst(2))
        if resource == ["streams"] {
            guard method == "GET" else { return Self.json(405, APIDocuments.Failure(error: "GET only")) }
            return Self.json(200, streams())
        }
        guard resource.count == 2, resource[0] == "connections" else {
            return Self.json(404, APIDocuments.Failure(error: "no such resource: \(path)"))
        }
        guard let id = Int(resource[1]), let entry = table.entry(id) else { return notFound(resource[1]) }
        switch method {
        case "GET":
            return Self.json(200, await connection(entry))
        case "DELETE":
            // Marked first: the connection's line says it was closed through the API.
            hubs.markKicked(entry.id)
            entry.connection.close()
            return Response(status: 204, body: [])
        default:
            return Self.json(405, APIDocuments.Failure(error: "GET or DELETE only"))
        }
    }

    private func notFound(_ id: String) -> Response {
        Self.json(404, APIDocuments.Failure(error: "no open connection \(id)"))
    }

    /// Every stream now, by name.
    func streams() -> APIDocuments.StreamList {
        let now = ContinuousClock.now
        let wall = Date()
        return APIDocuments.StreamList(
            streams: hubs.all.map { hub in
                let publisher = hub.publisher
                return APIDocuments.Stream(
                    name: hub.name,
                    publisher: publisher.map {
                        APIDocuments.Peer(
                            id: $0.id, address: Self.address($0.connection),
                            since: Self.iso8601($0.since, now: now, wall: wall))
                    },
                    readers: hub.readers.map { reader in
                        let report = reader.queue.report
                        return APIDocuments.Reader(
                            id: reader.id, address: Self.address(reader.connection),
                            since: Self.iso8601(reader.since, now: now, wall: wall),
                            sentBytes: reader.sentBytes.load(ordering: .relaxed), queuedBytes: report.queuedBytes,
                            droppedPackets: report.droppedBytes / TransportStream.packetSize)
                    },
                    receivedBytes: hub.receivedBytes.load(ordering: .relaxed),
                    bitrateBps: hub.bitrate(at: now).rounded(),
                    uptimeSeconds: publisher.map { Units.roundedSeconds(now - $0.since) },
                    recording: hub.recording,
                    links: hub.links.map { link in
                        let report = link.queue?.report
                        return APIDocuments.Link(
                            kind: link.kind.rawValue, remote: link.remote, connected: link.isConnected,
                            connects: link.connects.load(ordering: .relaxed),
                            bytes: link.bytes.load(ordering: .relaxed),
                            lostMessages: link.lostMessages.load(ordering: .relaxed),
                            droppedPackets: (report?.droppedBytes ?? 0) / TransportStream.packetSize,
                            queuedBytes: report?.queuedBytes ?? 0, since: Self.iso8601(link.since, now: now, wall: wall)
                        )
                    })
            })
    }

    /// One connection with libsrt's statistics (read on the adapter's control thread).
    func connection(_ entry: ConnectionTable.Entry) async -> APIDocuments.Connection {
        let now = ContinuousClock.now
        let statistics = try? await entry.connection.currentStatistics()
        return APIDocuments.Connection(
            id: entry.id, role: entry.request?.role.rawValue, stream: entry.request?.name,
            streamId: entry.connection.streamID, address: Self.address(entry.connection),
            since: Self.iso8601(entry.since, now: now, wall: Date()),
            uptimeSeconds: Units.roundedSeconds(now - entry.since),
            statistics: statistics.map { stats in
                APIDocuments.Statistics(
                    rttMilliseconds: Units.roundedSeconds(stats.roundTripTime) * 1000,
                    bandwidthMbps: stats.bandwidthMbps, sendRateMbps: stats.sendRateMbps,
                    receiveRateMbps: stats.receiveRateMbps, packetsSent: stats.packetsSent,
                    packetsReceived: stats.packetsReceived, packetsSentLost: stats.packetsSentLost,
                    packetsReceivedLost: stats.packetsReceivedLost, packetsRetransmitted: stats.packetsRetransmitted,
                    packetsSentDropped: stats.packetsSentDropped, packetsReceivedDropped: stats.packetsReceivedDropped,
                    bytesSent: stats.bytesSent, bytesReceived: stats.bytesReceived,
                    sendBufferMilliseconds: Units.roundedSeconds(stats.sendBufferDuration) * 1000,
                    receiveBufferMilliseconds: Units.roundedSeconds(stats.receiveBufferDuration) * 1000,
                    receiveBufferBytes: stats.receiveBufferBytes)
            })
    }

    private static func address(_ connection: SRTConnection) -> String {
        connection.peerAddress.map { "\($0)" } ?? "?"
    }

    /// The wall-clock time of `instant`, in ISO 8601 with milliseconds, UTC.
    private static func iso8601(_ instant: ContinuousClock.Instant, now: ContinuousClock.Instant, wall: Date) -> String
    {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: wall.addingTimeInterval(-Units.seconds(now - instant)))
    }

    private static func json(_ status: Int, _ document: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The documents hold strings, numbers and lists only: encoding cannot fail.
        let body = (try? encoder.encode(document)).map { [UInt8]($0) + [UInt8(ascii: "\n")] } ?? []
        return Response(status: status, body: body)
    }
}
