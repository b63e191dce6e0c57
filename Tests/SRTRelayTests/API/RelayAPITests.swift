import Foundation
import SRTAdapter
import SRTTestSupport
import Testing

/// The HTTP API beside `/metrics`, against the built relay with real callers: what a dashboard or an operator's
/// script reads and does.
@Suite(
    "srt-relay HTTP API",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment))
struct RelayAPITests {
    static func json(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    @Test(
        "streams with their publisher and readers, a connection's libsrt statistics, and kicking one",
        .timeLimit(.minutes(1)))
    func streamsConnectionsAndKick() async throws {
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        let started = try await RelayUnderTest.start(["--metrics-port", "\(metricsPort)", "--record", "none"])
        defer { started.stop() }
        let (log, port) = (started.log, started.port)
        // Before or after the listening line.
        _ = try await log.first("metrics", since: 0)
        let readers = [
            try await InProcessReader(port: port, streamID: "read:cam1"),
            try await InProcessReader(port: port, streamID: "read:cam1"),
        ]
        defer { for reader in readers { reader.close() } }
        let publisher = try await SRTConnection.connect(
            try SRTCallerConfiguration(host: "127.0.0.1", port: port, streamID: "publish:cam1"))
        defer { publisher.close() }
        for _ in 0..<3 { _ = try await log.next("connection-opened") }
        let message = [UInt8](repeating: 0x47, count: 1316)
        for _ in 0..<100 { try await publisher.send(message) }
        #expect(await RelayAcceptanceTests.eventually { readers.allSatisfy { $0.bytes.count == 131_600 } })

        let answer = await HTTP.get(port: metricsPort, path: "/v1/streams")
        #expect(answer?.status == 200)
        let streams = try #require(Self.json(answer?.body ?? "")?["streams"] as? [[String: Any]])
        #expect(streams.count == 1)
        let cam1 = try #require(streams.first)
        #expect(cam1["name"] as? String == "cam1")
        #expect(cam1["receivedBytes"] as? Int == 131_600)
        #expect(cam1["recording"] == nil || cam1["recording"] is NSNull)
        let publisherID = try #require((cam1["publisher"] as? [String: Any])?["id"] as? Int)
        let listed = try #require(cam1["readers"] as? [[String: Any]])
        #expect(listed.count == 2)
        #expect(listed.allSatisfy { $0["sentBytes"] as? Int == 131_600 })

        let details = await HTTP.get(port: metricsPort, path: "/v1/connections/\(publisherID)")
        #expect(details?.status == 200)
        let connection = try #require(Self.json(details?.body ?? ""))
        #expect(connection["role"] as? String == "publish")
        #expect(connection["streamId"] as? String == "publish:cam1")
        let statistics = try #require(connection["statistics"] as? [String: Any])
        #expect(statistics["packetsReceived"] as? Int ?? 0 >= 100)
        #expect(statistics["rttMilliseconds"] is Double || statistics["rttMilliseconds"] is Int)

        // Kicking the first reader: 204, its line says so, the other reader and the publisher stay.
        let readerID = try #require(listed.first?["id"] as? Int)
        #expect(await HTTP.request("DELETE", port: metricsPort, path: "/v1/connections/\(readerID)")?.status == 204)
        let closed = try await log.next("connection-closed")
        #expect(closed["id"] as? Int == readerID)
        #expect(closed["reason"] as? String == "disconnected through the API")
        let after = Self.json(await HTTP.get(port: metricsPort, path: "/v1/streams")?.body ?? "")
        let remaining = ((after?["streams"] as? [[String: Any]])?.first?["readers"] as? [[String: Any]]) ?? []
        #expect(remaining.map { $0["id"] as? Int } == [listed[1]["id"] as? Int])

        // Every field the API answers with is in its OpenAPI description.
        let description = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../../Docs/srt-relay-api.yaml"), encoding: .utf8)
        let fields = Set(
            [cam1, listed[0], cam1["publisher"] as? [String: Any] ?? [:], connection, statistics].flatMap(\.keys))
        #expect(fields.count > 30)
        #expect(fields.filter { !description.contains(" \($0):") }.isEmpty, "fields missing from the description")

        #expect(await HTTP.get(port: metricsPort, path: "/v1/connections/\(readerID)")?.status == 404)
        #expect(await HTTP.get(port: metricsPort, path: "/v1/connections/nope")?.status == 404)
        #expect(await HTTP.request("POST", port: metricsPort, path: "/v1/streams")?.status == 405)
        #expect(await HTTP.get(port: metricsPort, path: "/v1/nothing")?.status == 404)
    }
}
