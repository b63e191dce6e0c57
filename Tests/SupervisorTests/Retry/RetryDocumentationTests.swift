import Clocks
import Logging
import Supervisor
import Testing

/// The examples of the doc comments of `retry`, `RetryError` and `RetryAttempt`, compiled and run with stubs for
/// what they call. Keep each in step with its doc comment.
@Suite("Retry documentation examples")
struct RetryDocumentationTests {
    struct Configuration {}
    struct Unavailable: Error {}

    /// Fails `failures` times, then returns a configuration.
    final class Server: @unchecked Sendable {
        // Only touched from the test's own task.
        var failures: Int
        init(failures: Int) { self.failures = failures }

        func fetchConfiguration() async throws -> Configuration {
            if failures > 0 {
                failures -= 1
                throw Unavailable()
            }
            return Configuration()
        }
    }

    @Test("retry's example: a configuration after two failures, or the RetryError printed")
    func retryExample() async throws {
        let server = Server(failures: 2)
        var applied = 0
        func fetchConfiguration() async throws -> Configuration { try await server.fetchConfiguration() }
        func apply(_ configuration: Configuration) { applied += 1 }

        do {
            let config = try await retry(
                backoff: .exponential(initial: .milliseconds(200), maximum: .seconds(5)).jitter(.full),
                maxAttempts: 6,
                maxElapsed: .seconds(20),
                clock: ImmediateClock()  // not in the doc comment: virtual time for the test
            ) {
                try await fetchConfiguration()
            } onRetry: { failed in
                print("attempt \(failed.attempt): \(failed.error); again in \(failed.delay)")
            }
            apply(config)
        } catch let error as RetryError {
            print("no configuration: \(error.reason) after \(error.attempts) attempts; last: \(error.lastError)")
        }
        #expect(applied == 1)
    }

    @Test("RetryError's example: a server that keeps failing ends in the last catch")
    func retryErrorExample() async throws {
        let server = Server(failures: 100)
        var applied = 0
        var reasons: [RetryError.Reason] = []
        func fetchConfiguration() async throws -> Configuration { try await server.fetchConfiguration() }
        func apply(_ configuration: Configuration) { applied += 1 }
        let logger = Logger(label: "example", factory: { _ in SwiftLogNoOpLogHandler() })

        do {
            let config = try await retry(maxAttempts: 6, maxElapsed: .seconds(20), clock: ImmediateClock()) {
                try await fetchConfiguration()
            }
            apply(config)
        } catch let error as RetryError where error.reason == .gaveUp {
            logger.error("the server refused", metadata: ["error": "\(error.lastError)"])  // not worth retrying
            reasons.append(error.reason)
        } catch let error as RetryError {
            logger.warning(
                "no configuration", metadata: ["reason": "\(error.reason)", "attempts": "\(error.attempts)"])
            reasons.append(error.reason)
        }
        #expect(applied == 0 && reasons == [.attemptsExhausted])
    }

    @Test("RetryAttempt's example: the hook counts the retries")
    func retryAttemptExample() async throws {
        let server = Server(failures: 3)
        func fetchConfiguration() async throws -> Configuration { try await server.fetchConfiguration() }

        var retries = 0
        let config = try await retry(clock: ImmediateClock()) {  // the clock is not in the doc comment
            try await fetchConfiguration()
        } onRetry: { failed in
            retries += 1
            print("attempt \(failed.attempt) failed (\(failed.error)); trying again in \(failed.delay)")
        }
        _ = config
        #expect(retries == 3)
    }
}
