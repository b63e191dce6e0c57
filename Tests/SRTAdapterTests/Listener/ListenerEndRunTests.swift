import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// A graceful shutdown ends an `SRTListener`'s run by closing the listener (`endRun`), from another task, while
    /// the run may be ending for a reason of its own: `stop` must neither keep the closed listener nor take libsrt's
    /// end of its receive thread, which follows the close, for a death.
    @Suite("SRTListener: a run ended by a close")
    struct ListenerEndRunTests {
        @Test("endRun closes the listener and the run ends; stop after libsrt freed it finds no death")
        func endRunIsNoDeath() async throws {
            let resource = SRTListener(configuration: try TestSupport.loopback(), onConnection: { $0.close() })
            #expect(resource.endsRunOnRequest)
            let listener = try await resource.start()
            let running = Task { try await resource.run(listener) }
            #expect(await TestSupport.eventually { resource.takesRestartRequests }, "the run began")
            resource.endRun(listener)
            let ended = await running.result
            #expect((try? ended.get()) == nil, "the run ended on the close")
            // libsrt frees a closed listener's multiplexer, and ends its receive thread, a second or more later.
            let gone = await TestSupport.eventually(within: .seconds(10)) { listener.receiveThreadIsGone == true }
            #expect(gone, "libsrt ended the closed listener's receive thread")
            await resource.stop(listener)
            #expect(!listener.isDead, "a thread ended after our own close is no death")
        }

        @Test("a restart request and a shutdown's close at once: stop keeps nothing, the next start binds anew")
        func closedListenerNotKept() async throws {
            let resource = SRTListener(configuration: try TestSupport.loopback(), onConnection: { $0.close() })
            let listener = try await resource.start()
            let running = Task { try await resource.run(listener) }
            #expect(await TestSupport.eventually { resource.takesRestartRequests }, "the run takes restart requests")
            resource.restart()
            _ = await running.result
            // The shutdown's close lands after the run ended on the request, before the supervisor's stop.
            resource.endRun(listener)
            await resource.stop(listener)
            // The port stays libsrt's until its collector frees the closed listener: a supervisor's next start fails
            // with EADDRINUSE until then and backs off, as this loop does.
            var next: SRTListenSocket?
            for _ in 0..<100 where next == nil {
                next = try? await resource.start()
                if next == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let started = try #require(next, "a start within 10 s")
            #expect(started !== listener, "start bound a new listener, not the closed one")
            #expect(await started.probe(timeout: .milliseconds(500)).isAlive, "the new listener answers its probe")
            await resource.stop(started)
        }
    }
}
