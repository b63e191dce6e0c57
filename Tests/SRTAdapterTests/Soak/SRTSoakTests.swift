import Testing

extension Loopback {
    /// The SRT soak: a live stream into a listener that is broken every few seconds (fault B), beside a live
    /// stream into a healthy listener of the same process, for `SRT_SOAK_SECONDS` (see ``SRTSoakSettings``).
    ///
    /// In a child process (an exit test): a process that has seen a receive thread die can never run libsrt's
    /// cleanup, and its descriptor and thread counts must be its own.
    @Suite("SRT soak: a fault every few seconds beside a healthy stream")
    struct SRTSoakTests {
        @Test(
            "the healthy stream loses nothing; every fault is recovered, reported and resumed; fds and threads stay flat",
            .timeLimit(.minutes(SRTSoakSettings.current.timeLimitMinutes)))
        func soak() async throws {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await SRTSoakScenario.run()
            }
            TestSupport.expectChild(result, marker: "SOAK")
        }
    }
}
