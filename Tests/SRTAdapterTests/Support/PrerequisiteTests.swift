import SRTTestSupport
import Testing

/// Under CI every suite runs whatever the machine lacks; this one says plainly what is missing.
@Suite("Prerequisites under CI")
struct PrerequisiteTests {
    @Test("CI has srt-tools, root and iproute2", .enabled(if: Prerequisite.isCI))
    func everythingInstalled() {
        for prerequisite in [Prerequisite.srtTools, .namespaces, .prlimit] {
            #expect(prerequisite.isPresent, "CI lacks \(prerequisite): the suites that need it fail")
        }
    }
}
