import Supervisor
import Testing

/// Counts calls and fails the first `failures` of them with the given errors.
final class Flaky: @unchecked Sendable {
    // Only touched from the test's own task: `retry` calls the operation in the caller's isolation.
    var calls = 0
    let errors: [any Error]

    init(_ errors: [any Error]) {
        self.errors = errors
    }

    func call() throws -> Int {
        calls += 1
        if calls <= errors.count { throw errors[calls - 1] }
        return calls
    }
}

/// Runs `body`, which must throw a ``RetryError``, and returns it.
func retryError(_ body: () async throws -> Int) async -> RetryError? {
    do {
        let value = try await body()
        Issue.record("succeeded with \(value)")
    } catch let error as RetryError {
        return error
    } catch {
        Issue.record("threw \(error), not a RetryError")
    }
    return nil
}
