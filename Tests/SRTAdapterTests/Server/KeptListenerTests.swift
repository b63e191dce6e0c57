import Synchronization
import Testing

@testable import SRTAdapter
@testable import Supervisor

extension Loopback {
    /// `stop` after a restart request keeps the listener for the next `start`, but not for ever: `SRTListener` in a
    /// user's own supervisor that ends (or waits long) between the two must not leave a listener that connects callers
    /// nobody accepts.
    @Suite("A listener kept through a restart")
    struct KeptListenerTests {
        @Test("kept by stop after restart(), taken by the next start; one no start takes in 1 s refuses callers (1503)")
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
                    let refusing = await TestSupport.eventually(within: SRTListener.keptListenerLimit + .seconds(2)) {
                        listener.refusesCallers
                    }
                    #expect(refusing, "refuses callers once its limit passed with no start")
                    #expect(listener.state == .listening, "keeps the port for a later start")
                    // Told at once that the service is unavailable, not connected into a queue nobody reads.
                    var refused: SRTError?
                    do { _ = try await SRTConnection.connect(TestSupport.caller(to: listener)).close() } catch {
                        refused = error as? SRTError
                    }
                    #expect(refused?.rejectReason == SRTRejectReason.unavailable.code, "\(String(describing: refused))")
                    #expect(await listener.probe().isAlive, "still answers its probe")
                    // A later start takes it and admits callers again.
                    #expect(try await resource.start() === listener)
                    let (caller, accepted) = try await TestSupport.pair(listener)
                    caller.close()
                    accepted.close()
                    await resource.stop(listener)
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

        @Test("a policy that restarts only after the limit: restartListener() still keeps the port, no start fails")
        func lateStartTakesKeptListener() async throws {
            // A minimum restart delay past the limit; a budget's wait or a degraded probe interval come as late.
            let delay = SRTListener.keptListenerLimit + .milliseconds(500)
            let server = SRTServer(
                configuration: try TestSupport.loopback(), policy: try RestartPolicy(minimumRestartDelay: delay))
            let events = server.supervisor.events()
            let running = Task { try await server.run() }
            defer { running.cancel() }
            _ = try await SRTServerTests.waitFor(events, SRTServerTests.isReady)
            #expect(await TestSupport.eventually { server.supervisor.resource.takesRestartRequests })
            let before = try #require(server.supervisor.resource.current)
            let startFailures = Mutex<[String]>([])
            server.restartListener()
            _ = try await SRTServerTests.waitFor(events, within: delay + .seconds(10)) { event in
                if case .failed(let failure) = event, failure.phase == .start {
                    startFailures.withLock { $0.append("\(failure)") }
                }
                return SRTServerTests.isReady(event)
            }
            #expect(startFailures.withLock { $0 }.isEmpty, "the next start found the port taken")
            #expect(server.supervisor.resource.current === before, "the next run has the kept listener")
        }
    }
}
