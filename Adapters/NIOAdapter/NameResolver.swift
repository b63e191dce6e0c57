import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Resolves host names with `getaddrinfo`, each on a thread of its own, at most ``limit`` at once in the process.
///
/// `getaddrinfo` blocks, for seconds while a DNS server does not answer (5 s per try by default), and cannot be
/// interrupted: a resolution holds its thread until the resolver gives up, even after the start that asked for it
/// was cancelled. On a shared pool (NIO's `NIOThreadPool.singleton` has as many threads as cores) a few names that
/// hang would hold back every other start and every other user of the pool; here they hold only their own threads.
/// The cap bounds the threads that hanging names can pile up: past it a resolution fails at once
/// (``NIOAdapterError/Code/resolutionFailed``, which restarts after the backoff) instead of adding a thread.
enum NameResolver {
    /// The most resolutions in progress at once, hanging ones included.
    static let limit = 64

    /// Resolutions in progress now.
    static var inProgress: Int { running.load(ordering: .acquiring) }

    private static let running = Atomic(0)

    /// Thrown when ``limit`` resolutions are in progress already.
    struct TooManyResolutions: Error, CustomStringConvertible {
        var description: String { "\(NameResolver.limit) host name resolutions in progress already" }
    }

    /// Resolves `host`; a cancellation ends the wait at once (`CancellationError`), leaving `getaddrinfo` to finish
    /// on its thread: a shutdown must not wait for a DNS server that does not answer.
    static func resolve(_ host: String, port: Int) async throws -> SocketAddress {
        let outcome = ResolutionOutcome()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard outcome.install(continuation) else { return }
                guard reserve() else { return outcome.resume(with: .failure(TooManyResolutions())) }
                let started = startThread {
                    let result = Result { try SocketAddress.makeAddressResolvingHost(host, port: port) }
                    // Its place is free before anyone hears of the result: a start that follows may use it.
                    running.subtract(1, ordering: .releasing)
                    outcome.resume(with: result)
                }
                if !started {
                    running.subtract(1, ordering: .releasing)
                    outcome.resume(with: .failure(TooManyResolutions()))
                }
            }
        } onCancel: {
            outcome.resume(with: .failure(CancellationError()))
        }
    }

    /// Takes a place among the ``limit``; `false` when none is left.
    private static func reserve() -> Bool {
        var current = running.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = running.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Runs `body` on a new detached thread; `false` when the system has no thread to give.
    private static func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().body()
                return nil
            }, context)
        guard created == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    private final class ThreadBody: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}

/// The one result of a resolution that a cancellation may end first: whichever comes first resumes the waiting task.
private final class ResolutionOutcome: Sendable {
    private enum State {
        case waiting
        case installed(CheckedContinuation<SocketAddress, any Error>)
        case done
    }

    private let state = Mutex(State.waiting)

    /// Keeps `continuation` for the outcome; resumes it with `CancellationError` and returns false if the task was
    /// cancelled already.
    func install(_ continuation: CheckedContinuation<SocketAddress, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            guard case .waiting = state else { return true }
            state = .installed(continuation)
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    /// Resumes the waiting task with `result`, if nothing did before; before `install`, marks it done.
    func resume(with result: Result<SocketAddress, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<SocketAddress, any Error>? in
            defer { state = .done }
            if case .installed(let continuation) = state { return continuation }
            return nil
        }
        continuation?.resume(with: result)
    }
}
