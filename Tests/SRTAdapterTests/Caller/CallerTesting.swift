import CSRT
import Foundation
import SRTTestSupport
import Supervisor
import Synchronization

@testable import SRTAdapter

#if canImport(Glibc)
    import Glibc
#endif

/// Helpers shared by the caller's tests; every address is on loopback.
enum CallerTesting {
    /// A caller configuration for `address`, with the tests' latency and a short connect timeout.
    static func configuration(
        _ address: SRTAddress, streamID: String = "publish/test", passphrase: SRTPassphrase? = nil,
        connectTimeout: Duration = .seconds(1)
    ) throws -> SRTCallerConfiguration {
        try SRTCallerConfiguration(
            host: address.host, port: address.port, streamID: streamID, latency: .milliseconds(40),
            passphrase: passphrase, connectTimeout: connectTimeout)
    }

    /// The caller's policy with a quicker backoff: exponential from `initial`, at most 1 s, with `jitter`.
    static func policy(initial: Duration = .milliseconds(50), jitter: Jitter = .full) throws -> RestartPolicy {
        try RestartPolicy(
            backoff: Backoff.exponential(initial: initial, multiplier: 2, maximum: max(initial, .seconds(1)))
                .jitter(jitter),
            classifier: SRTConnector.classifier)
    }

    /// The next element of `stream`, bounded in time; a fresh iterator each call (one consumer at a time).
    static func next<Element: Sendable>(
        _ stream: AsyncStream<Element>, within limit: Duration = .seconds(5), _ what: String
    ) async throws -> Element {
        try await TestSupport.within(limit) {
            var iterator = stream.makeAsyncIterator()
            return try await iterator.next().orThrow(what)
        }
    }

    /// Receives on `connection` until `count` bytes arrived, bounded in time.
    static func receive(_ count: Int, on connection: SRTConnection, within limit: Duration = .seconds(5))
        async throws -> [UInt8]
    {
        try await TestSupport.within(limit) {
            var received: [UInt8] = []
            while received.count < count { received += try await connection.receive() }
            return received
        }
    }

    /// `duration` in seconds, for arithmetic on measured durations.
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A UDP port on 127.0.0.1 that was free a moment ago (bound, read, released).
    static func freePort() -> Int { (try? FreePort.loopback()) ?? 0 }

    /// The supervisor events of `events`, each with the instant it was received, collected by a task until the
    /// stream ends or the log is released.
    final class EventLog: Sendable {
        typealias Entry = (at: ContinuousClock.Instant, event: SupervisorEvent)

        private final class Storage: Sendable {
            let entries = Mutex<[Entry]>([])
        }

        private let storage = Storage()
        private let task: Task<Void, Never>

        init(_ events: AsyncStream<SupervisorEvent>) {
            let storage = self.storage
            task = Task {
                for await event in events { storage.entries.withLock { $0.append((ContinuousClock.now, event)) } }
            }
        }

        /// Everything received so far.
        var entries: [Entry] {
            storage.entries.withLock { $0 }
        }

        deinit { task.cancel() }

        /// The instants of `.ready` events, in order.
        var readyInstants: [ContinuousClock.Instant] {
            entries.compactMap { entry in if case .ready = entry.event { entry.at } else { nil } }
        }

        /// The delays of `.backingOff` events, in order.
        var delays: [Duration] {
            entries.compactMap { entry in if case .backingOff(let delay, _, _) = entry.event { delay } else { nil } }
        }

        /// The failures, in order.
        var failures: [SupervisorFailure] {
            entries.compactMap { entry in if case .failed(let failure) = entry.event { failure } else { nil } }
        }
    }
}
