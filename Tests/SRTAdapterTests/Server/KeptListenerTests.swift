import Testing

@testable import SRTAdapter

extension Loopback {
    /// `stop` after a restart request keeps the listener for the next `start`, but not for ever: `SRTListener` in a
    /// user's own supervisor that ends (or waits long) between the two must not leave a listener that connects callers
    /// nobody accepts.
    @Suite("A listener kept through a restart")
    struct KeptListenerTests {
        @Test("kept by stop after restart(), taken by the next start; one that no start takes is closed within 1 s")
        func keptThenClosedWhenUnclaimed() async throws {
            for claimed in [true, false] {
                let resource = SRTListener(configuration: try TestSupport.loopback(), onConnection: { $0.close() })
                let listener = try await resource.start()
                let running = Task { try await resource.run(listener) }
                #expect(await TestSupport.eventually { resource.takesRestartRequests })
                resource.restart()
                let ended = await running.result
                #expect((try? ended.get()) == nil, "the run ended on the request")
                await resource.stop(listener)
                #expect(listener.state == .listening, "kept for the next start")
                if claimed {
                    let next = try await resource.start()
                    #expect(next === listener, "the next start takes the kept listener")
                    // Past the limit, the taken listener still listens.
                    try await Task.sleep(for: SRTListener.keptListenerLimit + .milliseconds(300))
                    #expect(listener.state == .listening)
                    #expect(await listener.probe().isAlive)
                    await resource.stop(next)
                } else {
                    let closed = await TestSupport.eventually(within: SRTListener.keptListenerLimit + .seconds(2)) {
                        listener.state == .closed
                    }
                    #expect(closed, "closed once its limit passed with no start")
                }
            }
        }

        @Test("a keep's limit does not close the listener that a later keep holds")
        func earlierLimitSparesLaterKeep() async throws {
            let resource = SRTListener(configuration: try TestSupport.loopback(), onConnection: { $0.close() })
            func restartAndStop(_ listener: SRTListenSocket) async {
                let running = Task { try await resource.run(listener) }
                _ = await TestSupport.eventually { resource.takesRestartRequests }
                resource.restart()
                _ = await running.result
                await resource.stop(listener)
            }
            let listener = try await resource.start()
            await restartAndStop(listener)
            let firstKeep = ContinuousClock.now
            // Taken shortly before the first keep's limit, then kept again: the first limit passes during the second.
            try await Task.sleep(until: firstKeep + SRTListener.keptListenerLimit - .milliseconds(150))
            #expect(try await resource.start() === listener)
            await restartAndStop(listener)
            try await Task.sleep(until: firstKeep + SRTListener.keptListenerLimit + .milliseconds(150))
            #expect(listener.state == .listening, "the first keep's limit closed the listener of the second")
            #expect(try await resource.start() === listener, "the next start takes it")
            await resource.stop(listener)
        }
    }
}
