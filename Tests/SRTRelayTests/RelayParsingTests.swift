import SRTAdapter
import Testing

@testable import srt_relay

/// The relay's small parsers and formatters, without a process.
@Suite("srt-relay parsing and formatting")
struct RelayParsingTests {
    @Test(
        "--listen accepts HOST:PORT, [IPv6]:PORT, a bare host and a bare port",
        arguments: [
            ("127.0.0.1:9001", "127.0.0.1", 9001), ("[::1]:9002", "::1", 9002), ("::", "::", 9000),
            ("9003", "0.0.0.0", 9003), ("10.0.0.1", "10.0.0.1", 9000), (":9004", "0.0.0.0", 9004),
        ])
    func listenAddress(text: String, host: String, port: Int) throws {
        let parsed = try ListenAddress.split(text, defaultPort: 9000)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
    }

    @Test(
        "loopback addresses, and the ones other hosts can reach",
        arguments: [
            ("127.0.0.1", true), ("127.255.0.9", true), ("::1", true), ("::ffff:127.0.0.1", true),
            ("0.0.0.0", false), ("::", false), ("10.0.0.1", false), ("128.0.0.1", false), ("::2", false),
            ("::ffff:10.0.0.1", false), ("fe80::1", false),
        ])
    func loopback(host: String, isLoopback: Bool) {
        #expect(ListenAddress.isLoopback(host) == isLoopback)
    }

    @Test("udp:// URLs: numeric host and port required", arguments: ["udp://127.0.0.1:5000", "udp://[::1]:5000"])
    func goodForward(url: String) throws {
        #expect(try ForwardTarget(parsing: url).description == url)
    }

    @Test(
        "bad forward URLs are refused",
        arguments: [
            "http://127.0.0.1:5000", "udp://127.0.0.1", "udp://:5000", "udp://127.0.0.1:0", "udp://127.0.0.1:70000",
            "udp://example.com:5000", "udp://127.0.0.1:5000/path", "udp://[::1:5000", "udp://5000", "",
        ])
    func badForward(url: String) {
        #expect(throws: ParseFailure.self) { try ForwardTarget(parsing: url) }
    }

    @Test("recording names keep safe bytes only and never start with a dot")
    func recordingNames() {
        let time = "20261129T153005Z"
        #expect(RecordingName.make(streamID: "cam1", peer: "x", time: time) == "cam1-\(time).ts")
        #expect(RecordingName.make(streamID: "live/cam 1", peer: "x", time: time) == "live_cam_1-\(time).ts")
        #expect(
            RecordingName.make(streamID: "../../etc/passwd", peer: "x", time: time) == "_._.._etc_passwd-\(time).ts")
        #expect(RecordingName.make(streamID: "#!::r=cam2,m=publish", peer: "x", time: time) == "cam2-\(time).ts")
        #expect(RecordingName.make(streamID: "", peer: "[::1]:5000", time: time) == "___1__5000-\(time).ts")
        #expect(RecordingName.make(streamID: "cam1", peer: "x", time: time, counter: 2) == "cam1-\(time)-2.ts")
        let long = String(repeating: "a", count: 500)
        #expect(RecordingName.make(streamID: long, peer: "x", time: time).utf8.count < 255)
    }

    @Test("sizes, rates and durations for people")
    func units() {
        #expect(Units.bytes(512) == "512 B")
        #expect(Units.bytes(1_234_567) == "1.2 MB")
        #expect(Units.bitrate(4_200_000) == "4.2 Mbit/s")
        #expect(Units.bitrate(999) == "999 bit/s")
        #expect(Units.duration(.milliseconds(850)) == "850 ms")
        #expect(Units.duration(.seconds(12.34)) == "12.3 s")
        #expect(Units.duration(.seconds(75)) == "1m15s")
        #expect(Units.duration(.seconds(7380)) == "2h03m")
    }

    @Test("the count of leaked multiplexers in the status line and /healthz, with the limit")
    func leakedMultiplexers() throws {
        let limit = try SRTLeakLimit(maxLeakedMultiplexers: 100)
        #expect(Reporter.leaked(0, limit: limit) == "0 leaked multiplexers (exit past 100)")
        #expect(Reporter.leaked(1, limit: limit) == "1 leaked multiplexer (exit past 100)")
        #expect(Reporter.leaked(3, limit: .unlimited) == "3 leaked multiplexers")
    }

    @Test("JSON strings are escaped")
    func jsonEscaping() {
        #expect(Console.quoted("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
    }
}
