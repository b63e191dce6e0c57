import Foundation
import SRTAdapter
import Testing

@testable import srt_relay

/// `--config` files: what they say, and one clear line, without the secret, for each mistake.
@Suite("srt-relay configuration files")
struct StreamConfigurationTests {
    static func parse(_ text: String) throws -> StreamConfiguration {
        try StreamConfiguration.parse(Data(text.utf8), path: "streams.json")
    }

    @Test("a file's streams, roles, passphrases, networks and limits; \"*\" stands for the rest")
    func parses() throws {
        let configuration = try Self.parse(
            """
            {"streams": {
              "cam1": {"publish": {"passphrase": "publisher-secret-1", "from": ["192.0.2.0/24", "2001:db8::/32"]},
                       "read": {"passphrase": "viewer-secret-1"}, "maxReaders": 3, "record": false},
              "*": {"read": {}}
            }}
            """)
        let cam1 = try #require(configuration.stream(named: "cam1"))
        #expect(cam1.publish?.passphrase == (try .init("publisher-secret-1")))
        #expect(cam1.publish?.admits("192.0.2.200") == true)
        #expect(cam1.publish?.admits("2001:db8:1::5") == true)
        #expect(cam1.publish?.admits("198.51.100.1") == false)
        #expect(cam1.publish?.admits(nil) == false)
        #expect(cam1.read?.admits("198.51.100.1") == true)
        #expect(cam1.maxReaders == 3)
        #expect(cam1.record == false)
        let other = try #require(configuration.stream(named: "anything"))
        #expect(other.publish == nil)
        #expect(other.read?.passphrase == nil)
        #expect(try Self.parse(#"{"streams": {"cam1": {"read": {}}}}"#).stream(named: "cam2") == nil)
    }

    @Test(
        "each mistake is one line naming the file and the place, and never shows a secret",
        arguments: [
            (
                #"{"streams": {"cam1": {"read": {"passphrase": "short"}}}}"#,
                "streams.json: streams.cam1.read.passphrase: must be 10 to 79 bytes, got 5"
            ),
            (#"{"streams": {"cam1": {"raed": {}}}}"#, "streams.json: streams.cam1.raed: unknown key"),
            (#"{"streams": {}, "extra": 1}"#, "streams.json: extra: unknown key"),
            (
                #"{"streams": {"cam1": {"publish": {"from": ["10.0.0.0/33"]}}}}"#,
                "streams.json: streams.cam1.publish.from[0]: \"10.0.0.0/33\": the prefix length must be 0 to 32"
            ),
            (#"{"streams": {"cam1": {"publish": {"from": ["cam"]}}}}"#, "streams.cam1.publish.from[0]: \"cam\" is not"),
            (#"{"streams": {"cam1": {"maxReaders": -1}}}"#, "streams.cam1.maxReaders: must be 0 to 100000, got -1"),
            (#"{"streams": {"cam1": {"record": "yes"}}}"#, "streams.cam1.record: expected true or false"),
            (#"{"streams": {"cam1": {"read": {"passphrase": 12345678901}}}}"#, "read.passphrase: expected a string"),
            (#"{"streams": {"": {}}}"#, "a stream name must not be empty"),
            (#"{"streams": {"cam1": {}, "\u0063am1": {"read": {}}}}"#, "streams.json: streams.cam1: given twice"),
            (
                #"{"streams": {"cam1": {"read": {"passphrase": "viewer-secret-1", "passphrase": "x"}}}}"#,
                "streams.json: streams.cam1.read.passphrase: given twice"
            ),
            (#"{}"#, "streams.json: streams: missing"), (#"{"streams": "#, "streams.json: not valid JSON"),
        ])
    func refuses(text: String, message: String) {
        #expect {
            try Self.parse(text)
        } throws: { error in
            let line = "\(error)"
            return line.contains(message) && !line.contains("\n") && !line.contains("short\"")
        }
    }

    @Test("a file that cannot be read says so")
    func unreadable() {
        #expect {
            try StreamConfiguration.load(from: "/nonexistent/streams.json")
        } throws: { error in
            "\(error)".hasPrefix("/nonexistent/streams.json: cannot read it")
        }
    }

    @Test(
        "networks: CIDR and single addresses, IPv4 callers on a dual-stack listener",
        arguments: [
            ("192.0.2.0/24", "192.0.2.255", true), ("192.0.2.0/24", "192.0.3.0", false),
            ("192.0.2.7", "192.0.2.7", true), ("192.0.2.7", "192.0.2.8", false), ("0.0.0.0/0", "203.0.113.9", true),
            ("192.0.2.0/25", "::ffff:192.0.2.100", true), ("192.0.2.0/25", "::ffff:192.0.2.200", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "192.0.2.1", false), ("192.0.2.0/24", "not-an-address", false),
        ])
    func networks(network: String, host: String, inside: Bool) throws {
        #expect(try NetworkRange(parsing: network).contains(host) == inside)
    }

    @Test("a network is shown with its host bits cleared")
    func networkDescription() throws {
        #expect("\(try NetworkRange(parsing: "192.0.2.77/24"))" == "192.0.2.0/24")
        #expect("\(try NetworkRange(parsing: "2001:db8::1/32"))" == "2001:db8::/32")
    }
}
