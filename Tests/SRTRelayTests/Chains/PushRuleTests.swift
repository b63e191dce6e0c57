import SRTAdapter
import Testing

@testable import srt_relay

/// `--push` rules: what is accepted, what each stream's caller gets, and the mistakes refused before anything runs.
@Suite("srt-relay push rules")
struct PushRuleTests {
    @Test("a named rule, a rule for every stream with {stream}, IPv6, a latency and a passphrase from the environment")
    func accepted() throws {
        let named = try PushRule(parsing: "cam1=srt://198.51.100.7:9000")
        #expect(named.matches("cam1") && !named.matches("cam2"))
        let identity = try RelayIdentity(id: "edge-1")
        let configuration = try named.configuration(for: "cam1", identity: identity, via: [])
        #expect(configuration.address.port == 9000)
        // The stream's own name unless told otherwise: a plain id publishes it at a relay downstream.
        #expect(configuration.streamID == "cam1")
        #expect(configuration.latency == .milliseconds(120))
        #expect(configuration.passphrase == nil)

        let every = try PushRule(
            parsing: "*=srt://[2001:db8::7]:9000?streamid=%23!::r={stream},m=publish&latency=400&passphrase-env=KEY",
            environment: ["KEY": "a secret of 22 bytes!!"])
        #expect(every.matches("cam1") && every.matches("any/name"))
        // In the access-control form, the stream id carries the relays it came through, this one last.
        let pushed = try every.configuration(for: "live/cam2", identity: identity, via: ["origin"])
        #expect(pushed.streamID == "#!::r=live/cam2,m=publish,x-via=origin.edge-1")
        #expect(pushed.latency == .milliseconds(400))
        #expect(pushed.passphrase != nil)
        // What the relay prints of the rule never holds the secret.
        #expect(!"\(every)".contains("secret"), "\(every)")
        #expect("\(every)".hasPrefix("srt://[2001:db8::7]:9000"))
    }

    @Test(
        "mistakes are refused with a message naming them",
        arguments: [
            ("srt://127.0.0.1:9000", "expected NAME="),
            ("=srt://127.0.0.1:9000", "stream name"),
            ("cam1=udp://127.0.0.1:9000", "expected srt://"),
            ("cam1=srt://127.0.0.1", "both host and port"),
            ("cam1=srt://127.0.0.1:0", "1 to 65535"),
            ("cam1=srt://127.0.0.1:70000", "1 to 65535"),
            ("cam1=srt://origin.example:9000", "numeric"),
            ("cam1=srt://127.0.0.1:9000/path", "nothing but a query"),
            ("cam1=srt://127.0.0.1:9000?mode=caller", "unknown query key"),
            ("cam1=srt://127.0.0.1:9000?latency=-1", "latency"),
            ("cam1=srt://127.0.0.1:9000?latency=60001", "latency"),
            ("cam1=srt://127.0.0.1:9000?streamid=a&streamid=b", "twice"),
            ("cam1=srt://127.0.0.1:9000?passphrase=secret-on-the-command-line", "passphrase-env"),
            ("cam1=srt://127.0.0.1:9000?passphrase-env=UNSET_VARIABLE", "is not set"),
            ("cam1=srt://127.0.0.1:9000?passphrase-env=SHORT", "10 to 79 bytes"),
            // A stray % is no stream id at all: never an empty one, silently.
            ("cam1=srt://127.0.0.1:9000?streamid=50%off", "percent"),
        ])
    func refused(rule: String, message: String) {
        #expect {
            try PushRule(parsing: rule, environment: ["SHORT": "tiny"])
        } throws: { error in
            "\(error)".contains(message) && !"\(error)".contains("secret-on-the-command-line")
        }
    }

    @Test("a stream name that makes the stream id too long fails that stream's push only")
    func longName() throws {
        let rule = try PushRule(parsing: "*=srt://127.0.0.1:9000?streamid=publish:{stream}")
        let identity = try RelayIdentity(id: "a")
        #expect(throws: (any Error).self) {
            try rule.configuration(for: String(repeating: "n", count: 510), identity: identity, via: [])
        }
        #expect(try rule.configuration(for: "cam1", identity: identity, via: ["b"]).streamID == "publish:cam1")
    }

    @Test("a relay id is 1 to 32 letters, digits, - or _; a chain through it, or 8 relays long, is refused")
    func identity() throws {
        for bad in ["", "a.b", "with space", String(repeating: "x", count: 33), "é"] {
            #expect(throws: ParseFailure.self) { try RelayIdentity(id: bad) }
        }
        let identity = try RelayIdentity(id: "edge_2-B")
        #expect(!identity.refuses([]) && !identity.refuses(["origin", "edge-1"]))
        #expect(identity.refuses(["origin", "edge_2-B", "edge-3"]))
        #expect(identity.refuses((1...8).map { "r\($0)" }) && !identity.refuses((1...7).map { "r\($0)" }))
        let random = RelayIdentity.random()
        #expect(random.id.count == 8 && (try? RelayIdentity(id: random.id)) != nil)
        #expect(
            try StreamRequest(parsing: "#!::r=cam1,m=request,x-via=origin.edge-1").via == ["origin", "edge-1"])
        #expect(try StreamRequest(parsing: "read:cam1").via == [])
    }

    @Test("a stream name never changes what the stream id asks of the listener pushed to")
    func nameCannotInject() throws {
        let identity = try RelayIdentity(id: "a")
        // A hostile publisher's name ",r=core" would add a key: the push would publish "core", not "edge/…".
        let scoped = try PushRule(parsing: "*=srt://127.0.0.1:9000?streamid=%23!::r=edge/{stream},m=publish")
        #expect(throws: (any Error).self) { try scoped.configuration(for: "x,r=core", identity: identity, via: []) }
        #expect(throws: (any Error).self) { try scoped.configuration(for: "x,m=request", identity: identity, via: []) }
        #expect(
            try scoped.configuration(for: "cam1", identity: identity, via: []).streamID
                == "#!::r=edge/cam1,m=publish,x-via=a")
        // A name that turns a plain id into the access-control syntax.
        let plain = try PushRule(parsing: "*=srt://127.0.0.1:9000?streamid={stream}-edge1")
        #expect(throws: (any Error).self) { try plain.configuration(for: "#!::r=core,x=", identity: identity, via: []) }
        #expect(try plain.configuration(for: "cam1", identity: identity, via: []).streamID == "cam1-edge1")
    }
}
