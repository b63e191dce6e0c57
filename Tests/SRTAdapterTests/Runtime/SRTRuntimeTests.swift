import Logging
import Testing

@testable import SRTAdapter

@Suite("libsrt runtime")
struct SRTRuntimeTests {
    @Test("libsrt levels map to swift-log levels and back")
    func levels() {
        #expect(SRTRuntime.swiftLogLevel(for: 2) == .critical)
        #expect(SRTRuntime.swiftLogLevel(for: 3) == .error)
        #expect(SRTRuntime.swiftLogLevel(for: 4) == .warning)
        #expect(SRTRuntime.swiftLogLevel(for: 5) == .notice)
        #expect(SRTRuntime.swiftLogLevel(for: 6) == .info)
        #expect(SRTRuntime.swiftLogLevel(for: 7) == .debug)
        for level in [Logger.Level.critical, .error, .warning, .notice, .info, .debug] {
            #expect(SRTRuntime.swiftLogLevel(for: SRTRuntime.srtLevel(for: level)) == level)
        }
    }

    @Test("the death marker: a critical message containing INTERRUPTING worker, nothing else")
    func marker() {
        let line = "CChannel reported ERROR DURING TRANSMISSION - IPE. INTERRUPTING worker anyway."
        #expect(SRTRuntime.isReceiveThreadDeath(level: 2, message: line))
        #expect(!SRTRuntime.isReceiveThreadDeath(level: 3, message: line))
        #expect(!SRTRuntime.isReceiveThreadDeath(level: 2, message: "worker interrupted"))
    }

    @Test("routine libsrt errors the adapter causes on purpose are logged at debug")
    func routine() {
        #expect(SRTRuntime.isRoutine("srt_accept: no pending connection available at the moment"))
        #expect(!SRTRuntime.isRoutine("bind: Address: 127.0.0.1:1 conflicts with binding"))
    }

    @Test("the runtime starts once and reports no death in a healthy process")
    func healthy() {
        SRTRuntime.start(logLevel: .error)
        SRTRuntime.start(logLevel: .error)
        #expect(!SRTRuntime.hasSeenReceiveThreadDeath)
        #expect(SRTVersion.runtime >= SRTVersion.minimumSupported)
    }
}
