import Foundation
import SRTTestSupport
import Testing

/// srt-relay near its file-descriptor limit: each stream costs a descriptor (its recording), and a Swift process with
/// none left dies (libdispatch, Docs/srt-fault-model.md F). The relay refuses the publisher instead and lives.
@Suite(
    "srt-relay near its descriptor limit",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment),
    .enabled(if: Prerequisite.prlimit.allowsRunning, Prerequisite.prlimit.comment))
struct RelayDescriptorLimitTests {
    init() {
        // A child that dies early must not take the test process down with SIGPIPE on its stdin.
        signal(SIGPIPE, SIG_IGN)
    }

    @Test(
        "room for two recordings above the reserve: the next publisher is refused in one line, the relay lives and records again once a stream ends",
        .timeLimit(.minutes(1)))
    func refusesNearTheLimit() async throws {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-fds-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0",
                "--latency", "40",
            ])
        defer { relay.terminate() }
        let log = RelayLog(relay)
        _ = try await log.next("listening")

        // The relay's descriptors now, and the lowest soft limit that leaves 10 numbers free below it: the reserve
        // (8), one for the check itself, and two recordings' worth. (Descriptors above a limit stay open.)
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(relay.pid)/fd").compactMap { Int($0) }
        var limit = 0
        while limit - open.filter({ $0 < limit }).count < 10 { limit += 1 }
        let prlimit = try TestProcess("/usr/bin/prlimit", ["--pid", "\(relay.pid)", "--nofile=\(limit):"])
        let limited = await prlimit.exitStatus(within: .seconds(5))
        #expect(limited == 0)

        var publishers: [String: TestProcess] = [:]
        defer { for publisher in publishers.values { publisher.terminate() } }
        // Publishers one after another until the relay refuses one: room for two, or one when a descriptor the
        // process takes for a moment (libdispatch reads /proc every second while work is queued) is open at the
        // check. No reconnecting: a refused publisher that came back would take the room a closed stream frees.
        var opened: [String] = []
        var refusal: String?
        for streamID in ["a", "b", "c", "d"] where refusal == nil {
            let start = log.mark
            publishers[streamID] = try TestProcess(
                RelayBinary.publisher,
                ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"])
            switch try await Self.outcome(of: streamID, in: relay, since: start, within: .seconds(5)) {
            case .opened: opened.append(streamID)
            case .refused(let error):
                refusal = error
                publishers[streamID]?.terminate()
            case nil: Issue.record("publisher \(streamID): neither opened nor refused within 5 s")
            }
        }
        print("srt-relay at \(limit) descriptors: \(opened) recorded, then refused: \(refusal ?? "none")")
        #expect(refusal?.contains("descriptors free") == true, "\(String(describing: refusal))")
        #expect((1...2).contains(opened.count), "\(opened)")
        let alive = await relay.exitStatus(within: .milliseconds(200)) == nil
        #expect(alive, "the relay lives")

        // A stream ends, its file is closed: the next publisher is recorded. It tries again every half second for up
        // to 10 s, as a real one would: the room may be taken for a moment, as above.
        let ending = try #require(opened.first)
        publishers[ending]?.signal(SIGINT)
        let closed = try await log.next("connection-closed")
        #expect(closed["stream_id"] as? String == ending)
        var reopened = false
        var refusals: [String] = []
        var silent = 0
        let giveUp = ContinuousClock.now + .seconds(10)
        var attempt = 0
        while !reopened, ContinuousClock.now < giveUp, attempt < 20 {
            // A stream id per attempt, and the lines from now on: an earlier attempt's refusal is not this one's.
            let (start, streamID) = (relay.lines.count, "next\(attempt)")
            publishers[streamID] = try TestProcess(
                RelayBinary.publisher,
                ["-q", "-a:no", "file://con", "srt://127.0.0.1:\(port)?mode=caller&streamid=\(streamID)"])
            switch try await Self.outcome(of: streamID, in: relay, since: start, within: .seconds(5)) {
            case .opened: reopened = true
            case .refused(let error):
                refusals.append(error)
                publishers[streamID]?.terminate()
                try await Task.sleep(for: .milliseconds(500))
            case nil:
                silent += 1
                publishers[streamID]?.terminate()
            }
            attempt += 1
        }
        print(
            "srt-relay at \(limit) descriptors: the next publisher refused \(refusals.count) times, unanswered \(silent)"
        )
        #expect(reopened, "the next publisher is recorded once a stream ended; refused: \(refusals)")
        if !reopened {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(relay.pid)/fd")) ?? []
            print("srt-relay at \(limit) descriptors: \(fds.count) open now; its lines:")
            for line in relay.lines { print("  \(line)") }
        }

        relay.signal(SIGTERM)
        let status = await relay.exitStatus(within: .seconds(3))
        let errors = await relay.standardErrorAtExit()
        #expect(status == 0, "\(errors)")
    }

    /// What the relay said of the publisher of `streamID` in lines from `start` on.
    enum Outcome {
        case opened
        case refused(String)
    }

    /// Waits (bounded) for the relay's first `connection-opened` or `connection-refused` line for `streamID` from line
    /// `start` on; nil if neither came within `limit`.
    static func outcome(
        of streamID: String, in relay: TestProcess, since start: Int, within limit: Duration
    ) async throws -> Outcome? {
        let deadline = ContinuousClock.now + limit
        while true {
            let expired = ContinuousClock.now >= deadline
            for line in relay.lines.dropFirst(start).compactMap(RelayLog.decode)
            where line["stream_id"] as? String == streamID {
                if line["event"] as? String == "connection-opened" { return .opened }
                if line["event"] as? String == "connection-refused" { return .refused(line["error"] as? String ?? "") }
            }
            if expired { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// srt-relay listening on a free port with its metrics server on another, answering; the caller terminates it.
    static func relayWithMetrics(recordingTo directory: URL) async throws -> (relay: TestProcess, metricsPort: Int) {
        let binary = try #require(RelayBinary.path)
        let port = try RelayBinary.freePort()
        let metricsPort = try RelayBinary.freePort(type: Int32(SOCK_STREAM.rawValue))
        let relay = try TestProcess(
            binary,
            [
                "--listen", "127.0.0.1:\(port)", "--output", directory.path, "--json", "--status-interval", "0",
                "--metrics-port", "\(metricsPort)",
            ])
        _ = try await RelayLog(relay).next("listening")
        // The metrics server comes up beside the listener, in either order.
        #expect(await HTTP.getReady(port: metricsPort, path: "/healthz")?.status == 200)
        return (relay, metricsPort)
    }

    @Test(
        "descriptors short: a metrics scrape is closed unanswered and the relay lives; with room again it is answered",
        .timeLimit(.minutes(1)))
    func metricsRefusedNearTheLimit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-fds-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (relay, metricsPort) = try await Self.relayWithMetrics(recordingTo: directory)
        defer { relay.terminate() }

        // Four descriptor numbers free below the soft limit: fewer than the adapter's reserve (8).
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(relay.pid)/fd").compactMap { Int($0) }
        var limit = 0
        while limit - open.filter({ $0 < limit }).count < 4 { limit += 1 }
        let short = try TestProcess("/usr/bin/prlimit", ["--pid", "\(relay.pid)", "--nofile=\(limit):"])
        #expect(await short.exitStatus(within: .seconds(5)) == 0)
        let refused = await HTTP.get(port: metricsPort, path: "/healthz")
        #expect(refused == nil, "answered with \(String(describing: refused)) while descriptors were short")
        let alive = await relay.exitStatus(within: .milliseconds(200)) == nil
        #expect(alive, "the relay lives")

        let room = try TestProcess("/usr/bin/prlimit", ["--pid", "\(relay.pid)", "--nofile=\(limit + 64):"])
        #expect(await room.exitStatus(within: .seconds(5)) == 0)
        #expect(await HTTP.get(port: metricsPort, path: "/healthz")?.status == 200)

        relay.signal(SIGTERM)
        let status = await relay.exitStatus(within: .seconds(3))
        let errors = await relay.standardErrorAtExit()
        #expect(status == 0, "\(errors)")
    }

    @Test(
        "16 idle metrics connections held open: /healthz is still answered within 100 ms, and the one idle longest makes room",
        .timeLimit(.minutes(1)))
    func metricsIdleConnectionsCannotLockOut() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-fds-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (relay, metricsPort) = try await Self.relayWithMetrics(recordingTo: directory)
        defer { relay.terminate() }

        // Sixteen idle connections, the most the server holds at once; each confirmed accepted (the server answers a
        // request on it) before the next, then left idle. Three rounds, each topped up to sixteen again: every
        // scrape must be answered, and the quickest within 100 ms (one core may be busy, and other processes too).
        var open: [Int32] = []
        defer { for socket in open { close(socket) } }
        var times: [Duration] = []
        for round in 0..<3 {
            // The ones kept from the last round asked again, oldest first: on a loaded machine a round can outlast
            // the server's 5 s idle timeout, which would close them for idleness rather than to make room.
            for (index, socket) in open.enumerated() {
                #expect(
                    await Self.keepAliveRequest(on: socket), "round \(round + 1): kept connection \(index) answered")
            }
            while open.count < 16 {
                let socket = try #require(HTTP.connect(port: metricsPort))
                open.append(socket)
                #expect(await Self.keepAliveRequest(on: socket), "a keep-alive scrape was answered")
            }
            let (answer, time) = await HTTP.timedGet(port: metricsPort, path: "/healthz")
            #expect(answer?.status == 200, "\(String(describing: answer))")
            times.append(time)
            // The connection idle longest was closed to make room; the newest one still works.
            #expect(await Self.isClosedByPeer(open[0], within: .seconds(2)))
            close(open.removeFirst())
            #expect(await Self.keepAliveRequest(on: open[open.count - 1]))
        }
        print("srt-relay metrics: /healthz beside 16 idle connections answered in \(times)")
        #expect(times.min() ?? .seconds(1) < .milliseconds(100), "\(times)")
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    @Test(
        "a metrics connection that sends no request, or only part of one, is closed after the idle timeout; a request over 8 KiB at once",
        .timeLimit(.minutes(1)))
    func metricsIdleTimeoutAndRequestSize() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-fds-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (relay, metricsPort) = try await Self.relayWithMetrics(recordingTo: directory)
        defer { relay.terminate() }

        let silent = try #require(HTTP.connect(port: metricsPort))
        defer { close(silent) }
        let partial = try #require(HTTP.connect(port: metricsPort))
        defer { close(partial) }
        let opened = ContinuousClock.now
        // Half a request head: never a whole request.
        let head = Array("GET /healthz HTTP/1.1\r\nHost: relay\r\n".utf8)
        #expect(send(partial, head, head.count, Int32(MSG_NOSIGNAL)) == head.count)
        #expect(await Self.isClosedByPeer(silent, within: .seconds(8)))
        #expect(await Self.isClosedByPeer(partial, within: .seconds(1)))
        let idle = ContinuousClock.now - opened
        print("srt-relay metrics: idle connections closed after \(idle)")
        #expect(idle >= .seconds(4) && idle < .seconds(7), "\(idle)")

        let huge = try #require(HTTP.connect(port: metricsPort))
        defer { close(huge) }
        let request = Array("GET /healthz HTTP/1.1\r\nX-Filler: \(String(repeating: "a", count: 9_000))\r\n\r\n".utf8)
        _ = send(huge, request, request.count, Int32(MSG_NOSIGNAL))
        #expect(await Self.isClosedByPeer(huge, within: .seconds(1)), "no answer, and closed")
        #expect(await HTTP.get(port: metricsPort, path: "/healthz")?.status == 200)
        relay.signal(SIGTERM)
        #expect(await relay.exitStatus(within: .seconds(3)) == 0)
    }

    /// Reads `socket` until the peer closes it (end of file or reset, without any answer) or `limit` passes.
    /// Whether the server closed `socket` within `limit`; waits on a thread of its own, never on the concurrency
    /// pool, which other suites need meanwhile (two threads on this machine).
    static func isClosedByPeer(_ socket: Int32, within limit: Duration) async -> Bool {
        await onThread { blockingIsClosedByPeer(socket, within: limit) }
    }

    /// Whether a keep-alive `/healthz` on `socket` was answered within 2 s; on a thread of its own, as above.
    static func keepAliveRequest(on socket: Int32) async -> Bool {
        await onThread { blockingKeepAliveRequest(on: socket) }
    }

    static func onThread(_ body: @escaping @Sendable () -> Bool) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }

    static func blockingIsClosedByPeer(_ socket: Int32, within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count == 0 || (count < 0 && errno == ECONNRESET) { return true }
            if count > 0 { return false }
        }
        return false
    }

    /// Sends one HTTP/1.1 (keep-alive) request on `socket` and reads until its response has arrived (2 s at most).
    static func blockingKeepAliveRequest(on socket: Int32) -> Bool {
        let request = Array("GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n".utf8)
        guard send(socket, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return false }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let deadline = ContinuousClock.now + .seconds(2)
        // The body: the state, then the count of leaked multiplexers with the default limit.
        while !String(decoding: response, as: UTF8.self).hasSuffix("ready\n0 leaked multiplexers (exit past 100)\n") {
            guard ContinuousClock.now < deadline else { return false }
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { return false }
            response += buffer[..<count]
        }
        return true
    }
}
