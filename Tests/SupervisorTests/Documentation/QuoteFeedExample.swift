// The complete example of the DocC article "Supervising a resource" (Sources/Supervisor/Documentation.docc),
// compiled and run by SupervisingAResourceTests. Keep the two in step.
import Logging
import ServiceLifecycle
import Supervisor
import Synchronization
import UnixSignals

/// A quote server that drops its subscribers now and then (in real life: a TCP or SRT peer).
final class QuoteServer: Sendable {
    struct Dropped: Error {}
    struct Refused: Error {}

    /// How many subscriptions are refused, then how many quotes each one delivers before it drops.
    private let plan: Mutex<(refusals: Int, quotesPerSubscription: Int)>

    init(refusals: Int, quotesPerSubscription: Int) {
        plan = Mutex((refusals, quotesPerSubscription))
    }

    func subscribe() throws -> AsyncThrowingStream<Double, any Error> {
        let quotes = try plan.withLock { plan -> Int in
            if plan.refusals > 0 {
                plan.refusals -= 1
                throw Refused()
            }
            return plan.quotesPerSubscription
        }
        return AsyncThrowingStream { continuation in
            for quote in 0..<quotes { continuation.yield(100 + Double(quote)) }
            continuation.finish(throwing: Dropped())
        }
    }
}

/// The resource: a subscription to the quote server, kept alive by a supervisor.
struct QuoteFeed: Restartable {
    let server: QuoteServer
    let received = Received()

    /// Every quote received, across subscriptions.
    final class Received: Sendable {
        let quotes = Mutex<[Double]>([])
    }

    func start() async throws -> AsyncThrowingStream<Double, any Error> {
        try server.subscribe()
    }

    func run(_ quotes: AsyncThrowingStream<Double, any Error>) async throws {
        for try await quote in quotes {
            received.quotes.withLock { $0.append(quote) }
        }
    }

    func stop(_ quotes: AsyncThrowingStream<Double, any Error>) async {}
}

/// Builds the supervisor of the article: exponential backoff with full jitter, at most 10 restarts a minute
/// (then slow probing every 30 s), stable after 10 s.
func makeQuoteSupervisor(
    server: QuoteServer,
    clock: any Clock<Duration> = ContinuousClock(),
    logger: Logger
) throws -> ResourceSupervisor<QuoteFeed> {
    let policy = try RestartPolicy(
        backoff: .exponential(initial: .milliseconds(100), multiplier: 2, maximum: .seconds(30)).jitter(.full),
        intensity: RestartIntensity(maxRestarts: 10, within: .seconds(60)),
        escalation: .degrade(probeInterval: .seconds(30)),
        stableUptime: .seconds(10)
    )
    return ResourceSupervisor(QuoteFeed(server: server), name: "quotes", policy: policy, clock: clock, logger: logger)
}

/// Runs it in a ServiceGroup and prints what happens; returns when the group shuts down.
func runQuoteFeed(_ supervisor: ResourceSupervisor<QuoteFeed>, logger: Logger) async throws {
    let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        tasks.addTask {
            for await event in supervisor.events() {
                switch event {
                case .backingOff(let delay, _, let attempt):
                    logger.info("quotes: retrying (attempt \(attempt)) in \(delay)")
                case .degraded(let interval):
                    logger.warning("quotes: too many restarts, probing every \(interval)")
                case .stopped(let reason):
                    logger.info("quotes: stopped: \(reason)")
                default:
                    break
                }
            }
        }
        try await tasks.waitForAll()
    }
}
