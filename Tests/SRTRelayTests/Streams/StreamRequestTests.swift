import Testing

@testable import srt_relay

/// Stream ids in the three spellings a caller may use, and the ones refused.
@Suite("srt-relay stream ids")
struct StreamRequestTests {
    @Test(
        "SRT's access-control syntax, MediaMTX's form and a plain id name a stream and a role",
        arguments: [
            ("#!::r=cam1,m=publish", "cam1", StreamRequest.Role.publish, nil),
            ("#!::r=cam1,m=request", "cam1", .read, nil),
            ("#!::m=request,u=alice,r=live/cam1", "live/cam1", .read, "alice"),
            // The convention's default mode is request.
            ("#!::r=cam1", "cam1", .read, nil),
            ("#!::r=cam1,t=stream,s=abc,x-custom=1", "cam1", .read, nil),
            ("publish:cam1", "cam1", .publish, nil), ("read:cam1", "cam1", .read, nil),
            ("read:a:b", "a:b", .read, nil), ("cam1", "cam1", .publish, nil), ("", "", .publish, nil),
            ("play:cam1", "play:cam1", .publish, nil),
        ] as [(String, String, StreamRequest.Role, String?)])
    func parses(streamID: String, name: String, role: StreamRequest.Role, user: String?) throws {
        let request = try StreamRequest(parsing: streamID)
        #expect(request.name == name)
        #expect(request.role == role)
        #expect(request.user == user)
    }

    @Test(
        "a stream id the relay cannot serve is refused with what is wrong",
        arguments: [
            ("#!::m=publish", "no resource"), ("#!::r=", "no resource"), ("#!::r=cam1,m=bidirectional", "mode"),
            ("#!::r=cam1,t=file", "type"), ("#!::r=cam1,junk", "key=value"), ("read:", "no stream name"),
            ("publish:", "no stream name"), (String(repeating: "x", count: 513), "longer than 512"),
        ])
    func refuses(streamID: String, says: String) {
        #expect {
            try StreamRequest(parsing: streamID)
        } throws: { error in
            "\(error)".contains(says)
        }
    }
}
