import InMemoryLogging
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

@Suite("The DocC article's example")
struct SupervisingAResourceTests {
    @Test("the quote feed survives refusals and drops, logs its retries, and shuts down gracefully")
    func quoteFeed() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "example", factory: { _ in handler })
        let server = QuoteServer(refusals: 2, quotesPerSubscription: 3)
        let supervisor = try makeQuoteSupervisor(server: server, clock: SkipAheadClock(), logger: logger)
        let recorder = EventRecorder(supervisor)
        try await testGracefulShutdown { trigger in
            let feed = Task { try await runQuoteFeed(supervisor, logger: logger) }
            // Two refusals, then subscriptions that deliver three quotes and drop: wait for the third ready.
            var readies = 0
            while readies < 3, let event = await recorder.next() {
                if case .ready = event { readies += 1 }
            }
            #expect(readies == 3)
            #expect(supervisor.resource.received.quotes.withLock { $0.prefix(6) } == [100, 101, 102, 100, 101, 102])
            trigger.triggerGracefulShutdown()
            try await feed.value
        }
        let retries = handler.entries.filter { "\($0.message)".hasPrefix("quotes: retrying") }
        #expect(retries.count >= 3)
        #expect(handler.entries.contains { "\($0.message)" == "quotes: stopped: shutdown requested" })
    }
}
