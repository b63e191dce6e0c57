import SRTAdapter
import Testing

@Suite("libsrt version")
struct SRTVersionTests {
    @Test("the loaded libsrt is the one the adapter was built and measured against")
    func runtimeMatchesHeaders() {
        #expect(SRTVersion.runtime == SRTVersion.headers)
        #expect(SRTVersion.runtime >= SRTVersion.minimumSupported)
    }

    @Test("versions order by major, then minor, then patch")
    func ordering() {
        #expect(SRTVersion(major: 1, minor: 5, patch: 1) < SRTVersion(major: 1, minor: 5, patch: 2))
        #expect(SRTVersion(major: 1, minor: 4, patch: 9) < SRTVersion(major: 1, minor: 5, patch: 0))
        #expect(SRTVersion(major: 2, minor: 0, patch: 0) > SRTVersion(major: 1, minor: 9, patch: 9))
        #expect(SRTVersion(major: 1, minor: 5, patch: 1).description == "1.5.1")
    }
}
