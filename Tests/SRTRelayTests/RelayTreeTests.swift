import Foundation
import Testing

/// srt-relay runs as one supervision tree: what `/tree` shows, a child per live stream that leaves with it, and a
/// metrics endpoint that the tree keeps trying while the relay records.
@Suite("srt-relay as a supervision tree", .serialized)
struct RelayTreeTests {
    @Test(
        "/tree shows the tree, with a child for a live stream that leaves when the stream ends", .timeLimit(.minutes(1))
    )
    func treeWithAStream() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1",
                "--metrics-port", "\(metricsPort)",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        _ = try await log.first("metrics", since: 0)
        let idle = try #require(await HTTP.getReady(port: metricsPort, path: "/tree"))
        #expect(idle.status == 200)
        #expect(idle.body.hasPrefix("srt-relay (rest for one): ready\n"), "\(idle.body)")
        for line in [
            "├─ listener (temporary): running, ready", "├─ streams (one for one): ready",
            "├─ acceptor (permanent): running, ready", "├─ reporter (transient): running, ready",
            "└─ metrics (permanent): running, ready",
        ] {
            #expect(idle.body.contains(line), "\(line) in \(idle.body)")
        }

        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=live"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        await RelayAcceptanceTests.feed(publisher, [UInt8](repeating: 0x47, count: 1456 * 64), close: false)
        // srt-live-transmit keeps the last few chunks until its input closes.
        try await log.waitForBytes(1456 * 32)
        let live = try #require(await HTTP.get(port: metricsPort, path: "/tree"))
        #expect(live.body.contains("│  └─ 1 (temporary): running, ready"), "\(live.body)")

        publisher.closeInput()
        try await log.waitForBytes(1456 * 64)
        publisher.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        #expect(closed["bytes"] as? Int == 1456 * 64)
        // The child leaves once its stream is closed and its recording flushed.
        var after = await HTTP.get(port: metricsPort, path: "/tree")
        for _ in 0..<50 where after?.body.contains("1 (temporary)") != false {
            try await Task.sleep(for: .milliseconds(20))
            after = await HTTP.get(port: metricsPort, path: "/tree")
        }
        #expect(after?.body.contains("1 (temporary)") == false, "\(after?.body ?? "no answer")")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(2)) == 0)
    }

    @Test(
        "a metrics port taken at start: the relay records anyway, and serves metrics once the port is free",
        .timeLimit(.minutes(1)))
    func metricsPortTaken() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        let holder = try #require(Self.listen(on: metricsPort))
        var held = true
        defer { if held { close(holder) } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0.1",
                "--metrics-port", "\(metricsPort)",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")
        // A stream is recorded while the metrics endpoint cannot bind.
        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=meanwhile"])
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        await RelayAcceptanceTests.feed(publisher, [UInt8](repeating: 0x47, count: 1456 * 16), close: true)
        try await log.waitForBytes(1456 * 16)
        #expect(!relay.lines.compactMap(RelayLog.decode).contains { $0["event"] as? String == "metrics" })
        close(holder)
        held = false
        // The tree starts the endpoint again on its backoff (the first delays are well under a second each).
        _ = try await log.first("metrics", since: 0, within: .seconds(15))
        let health = await HTTP.getReady(port: metricsPort, path: "/healthz")
        #expect(health?.status == 200)
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(2)) == 0)
    }

    /// A TCP socket listening on 127.0.0.1:`port`, which keeps anyone else from binding it.
    static func listen(on port: Int) -> Int32? {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard bound, Foundation.listen(socket, 1) == 0 else {
            close(socket)
            return nil
        }
        return socket
    }
}
